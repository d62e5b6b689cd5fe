"""The checks of ``schedules_second_order.ipynb`` (a03) against a library of implementations.

Every correct alternative in ``tests/implementations/a03_schedules.py`` must pass the visible and
the hidden cases; every implementation with a common mistake must be rejected by the hidden cases
with a :class:`CheckFailure`. Fast: no notebooks, no kernels.
"""

from __future__ import annotations

from implementation_suite import define_tests

from autograder.checks.a03_adaptive_lr.schedules import EXERCISES

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
    "wrong_lbfgs_grad_in_place": "modified grad in place",
    "wrong_step_decay_returns_array": "must return a float",
    "wrong_sgdr_returns_tuple": "must return a float",
}


define_tests(globals(), EXERCISES, CORRECT, WRONG, check_gaps=CHECK_GAPS,
             rejected_correct=REJECTED_CORRECT, expected_message=EXPECTED_MESSAGE,
             assignment="a03_adaptive_lr")
