"""The checks of ``schedules_second_order.ipynb`` (a03) against a library of implementations.

Every correct alternative in ``tests/implementations/a03_schedules.py`` must pass the visible and
the hidden cases; every implementation with a common mistake must be rejected by the hidden cases
with a :class:`CheckFailure`. Fast: no notebooks, no kernels.
"""

from __future__ import annotations

import re

import pytest

from autograder.checks.a03_adaptive_lr.schedules import EXERCISES
from autograder.checks.core import CheckFailure

try:
    from tests.implementations.a03_schedules import CORRECT, WRONG
except ModuleNotFoundError:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from implementations.a03_schedules import CORRECT, WRONG

#: Wrong implementations the hidden checks accept: defects of the checks, reported to the
#: maintainer. Marked ``xfail(strict=True)``, so fixing the checks makes the test XPASS (and fail)
#: until the entry is removed here.
CHECK_GAPS: dict[str, str] = {}

#: Correct implementations the hidden checks reject: defects of the checks (or of the
#: specification), reported to the maintainer; their hidden test is ``xfail(strict=True)``.
REJECTED_CORRECT: dict[str, str] = {}

#: For some mistakes, a phrase the failure message must contain: the checks reject them for the
#: intended reason, not by accident.
EXPECTED_MESSAGE: dict[str, str] = {
    "wrong_newton_inverse": "does not solve H step = grad accurately",
    "wrong_newton_pinv": "does not solve H step = grad accurately",
    "wrong_newton_in_place": "modified its input array in place",
    "wrong_bfgs_same_factor_twice": "must be symmetric",
    "wrong_bfgs_missing_ss_term": "secant condition",
    "wrong_bfgs_transposes_swapped": "secant condition",
    "wrong_bfgs_in_place": "modified its input array in place",
    "wrong_lbfgs_reverses_history": "modified its input s_history",
}


def _correct_params():
    params = []
    for name, impls in CORRECT.items():
        for impl in impls:
            for hidden in (False, True):
                marks = ()
                if hidden and impl.__name__ in REJECTED_CORRECT:
                    marks = pytest.mark.xfail(reason=REJECTED_CORRECT[impl.__name__], strict=True)
                kind = "hidden" if hidden else "visible"
                params.append(pytest.param(name, impl, hidden, id=f"{impl.__name__}-{kind}",
                                           marks=marks))
    return params


def _wrong_params():
    params = []
    for name, impls in WRONG.items():
        for impl in impls:
            marks = ()
            if impl.__name__ in CHECK_GAPS:
                marks = pytest.mark.xfail(reason=CHECK_GAPS[impl.__name__], strict=True)
            params.append(pytest.param(name, impl, id=impl.__name__, marks=marks))
    return params


@pytest.mark.parametrize(("name", "impl", "hidden"), _correct_params())
def test_correct_implementation_passes(name, impl, hidden):
    """A correct alternative passes every case of its exercise."""
    assert EXERCISES[name].check(impl, hidden=hidden, quiet=True) > 0


@pytest.mark.parametrize(("name", "impl"), _wrong_params())
def test_wrong_implementation_is_rejected_by_hidden_cases(name, impl):
    """An implementation with a common mistake fails the hidden cases with a CheckFailure."""
    phrase = EXPECTED_MESSAGE.get(impl.__name__)
    with pytest.raises(CheckFailure, match=re.escape(phrase) if phrase else None):
        EXERCISES[name].check(impl, hidden=True, quiet=True)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("name", "impl"), _wrong_params())
def test_wrong_implementation_is_rejected_at_other_seeds(name, impl, seed):
    """Instructors may change HIDDEN_SEED each term: the mistakes must still be caught."""
    with pytest.raises(CheckFailure):
        EXERCISES[name].check(impl, hidden=True, quiet=True, seed=seed)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("name", "impl", "hidden"),
                         [p for p in _correct_params() if p.values[2]])
def test_correct_implementation_passes_at_other_seeds(name, impl, hidden, seed):
    assert EXERCISES[name].check(impl, hidden=True, quiet=True, seed=seed) > 0


def test_catalogue_covers_every_exercise():
    """Each exercise has at least one correct and two wrong implementations, all documented."""
    assert set(CORRECT) == set(EXERCISES)
    assert set(WRONG) == set(EXERCISES)
    for name in EXERCISES:
        assert len([f for f in CORRECT[name] if f.__name__ not in REJECTED_CORRECT]) >= 1, name
        assert len([f for f in WRONG[name] if f.__name__ not in CHECK_GAPS]) >= 2, name
    everything = [impl for table in (CORRECT, WRONG) for impls in table.values() for impl in impls]
    names = [impl.__name__ for impl in everything]
    assert len(names) == len(set(names)), "implementation names must be unique (they are test ids)"
    assert all(impl.__doc__ and impl.__doc__.strip() for impl in everything)
    wrong_names = {impl.__name__ for impls in WRONG.values() for impl in impls}
    assert set(CHECK_GAPS) <= wrong_names, set(CHECK_GAPS) - wrong_names
    assert set(EXPECTED_MESSAGE) <= wrong_names, set(EXPECTED_MESSAGE) - wrong_names
    correct_names = {impl.__name__ for impls in CORRECT.values() for impl in impls}
    assert set(REJECTED_CORRECT) <= correct_names, set(REJECTED_CORRECT) - correct_names
