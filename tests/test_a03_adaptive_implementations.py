"""The checks of ``a03_adaptive_lr/adaptive_methods.ipynb`` against a library of implementations.

Every correct alternative in ``tests/implementations/a03_adaptive.py`` must pass the visible and
the hidden cases; every implementation with a common mistake must be rejected by the hidden cases
with a :class:`CheckFailure`. Fast: no notebooks, no kernels.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from autograder.checks.a03_adaptive_lr.adaptive import EXERCISES
from autograder.checks.core import CheckFailure

try:
    from tests.implementations.a03_adaptive import CORRECT, WRONG
except ModuleNotFoundError:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from implementations.a03_adaptive import CORRECT, WRONG

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
    "wrong_adagrad_mutates_G": "modified its input array 'G' in place",
    "wrong_rmsprop_mutates_s": "modified its input array 's' in place",
    "wrong_adam_t_minus_one": "NaN or inf",
    "wrong_adam_returns_corrected_state": ", m: expected",
    "wrong_adam_mutates_moments": "modified its input array 'm' in place",
    "wrong_diffgrad_xi_stored_in_m": ", m: expected",
    "wrong_diffgrad_updates_w_in_place": "modified its input array 'w' in place",
    "WrongAdamDecoupledWeightDecay": "weight decay",
    "WrongAdamOneStepCounter": "'extra.weight' differs",
    "WrongAdamNoneGradAsZero": "'extra.weight' differs",
    "WrongAdamSharedMoments": "Adam raised RuntimeError",
}

#: Mistakes in where eps goes. Whatever case rejects them first, every tiny-gradient case must
#: reject them on its own: there eps is not negligible next to the square root, so they are
#: caught whatever the tolerances.
EPS_MISTAKES = {
    "wrong_adagrad_eps_inside_sqrt", "wrong_rmsprop_eps_inside_sqrt", "wrong_adam_eps_inside_sqrt",
    "wrong_adam_eps_on_uncorrected_v", "wrong_radam_eps_on_corrected_v", "WrongAdamEpsInsideSqrt",
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


@pytest.mark.parametrize(("name", "impl"),
                         [p for p in _wrong_params() if p.id in EPS_MISTAKES])
def test_eps_mistake_is_rejected_by_every_tiny_gradient_case(name, impl):
    exercise = EXERCISES[name]
    tiny = [case for case in exercise.cases(hidden=True) if "tiny gradients" in case.label]
    assert tiny
    for case in tiny:
        with pytest.raises(CheckFailure):
            exercise.check_case(impl, case)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("name", "impl", "hidden"),
                         [p for p in _correct_params() if p.values[2]])
def test_correct_implementation_passes_at_other_seeds(name, impl, hidden, seed):
    assert EXERCISES[name].check(impl, hidden=True, quiet=True, seed=seed) > 0


def _stub(*args, **kwargs):
    """The released notebook's unanswered function."""
    raise NotImplementedError()


class _StubOptimizer(torch.optim.Optimizer):
    """The released notebook's unanswered class."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        raise NotImplementedError()


@pytest.mark.parametrize("name", list(EXERCISES))
def test_unanswered_stub_is_not_attempted(name):
    """NotImplementedError propagates (the notebook reports the test as not attempted)."""
    stub = _StubOptimizer if name == "Adam" else _stub
    with pytest.raises(NotImplementedError):
        EXERCISES[name].check(stub, quiet=True)


@pytest.mark.parametrize("name", [n for n in EXERCISES if n != "Adam"])
def test_other_exceptions_and_malformed_results_fail(name):
    """Any other exception, or a result that is not the documented tuple, is a CheckFailure."""
    def crashes(*args, **kwargs):
        return np.zeros(3) @ np.zeros(4)

    def returns_w_only(w, *args, **kwargs):
        return w.copy()

    def returns_lists(*args, **kwargs):
        return tuple(a.tolist() for a in CORRECT[name][0](*args, **kwargs))

    for impl, phrase in [(crashes, "raised ValueError"), (returns_w_only, "expected a tuple"),
                         (returns_lists, "numpy.ndarray")]:
        with pytest.raises(CheckFailure, match=re.escape(phrase)):
            EXERCISES[name].check(impl, quiet=True)


def test_optimizer_must_be_an_optimizer_class():
    with pytest.raises(CheckFailure, match="subclasses torch.optim.Optimizer"):
        EXERCISES["Adam"].check(lambda params, **kw: torch.optim.Adam(params, **kw), quiet=True)
    with pytest.raises(CheckFailure, match="not subclass torch.optim.Adam"):
        EXERCISES["Adam"].check(type("Delegating", (torch.optim.Adam,), {}), quiet=True)


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
    assert EPS_MISTAKES <= wrong_names, EPS_MISTAKES - wrong_names
    correct_names = {impl.__name__ for impls in CORRECT.values() for impl in impls}
    assert set(REJECTED_CORRECT) <= correct_names, set(REJECTED_CORRECT) - correct_names
