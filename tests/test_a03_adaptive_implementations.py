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
from implementation_suite import define_tests

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
    "wrong_radam_mutates_moments": "modified its input array 'm' in place",
    "wrong_diffgrad_returns_prev": "expected a tuple (w, m, v)",
    "WrongAdamDecayIntoGrad": "step() changed",
    "WrongAdamDropsClosureLoss": "must return the loss the closure returned",
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


define_tests(globals(), EXERCISES, CORRECT, WRONG, check_gaps=CHECK_GAPS,
             rejected_correct=REJECTED_CORRECT, expected_message=EXPECTED_MESSAGE,
             assignment="a03_adaptive_lr")


@pytest.mark.parametrize(("name", "impl"),
                         [pytest.param(n, f, id=f.__name__) for n, fs in WRONG.items() for f in fs
                          if f.__name__ in EPS_MISTAKES])
def test_eps_mistake_is_rejected_by_every_tiny_gradient_case(name, impl):
    exercise = EXERCISES[name]
    tiny = [case for case in exercise.cases(hidden=True) if "tiny gradients" in case.label]
    assert tiny
    for case in tiny:
        with pytest.raises(CheckFailure):
            exercise.check_case(impl, case)


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
