"""The checks of assignment ``a01_critical_points`` against a library of implementations.

Every correct alternative in ``tests/implementations/a01_critical_points.py`` must pass the
visible and the hidden cases; every implementation with a common mistake must be rejected by the
hidden cases with a :class:`CheckFailure`. Fast: no notebooks, no kernels.
"""

from __future__ import annotations

import pytest
from implementation_suite import define_tests

from autograder.checks.a01_critical_points import EXERCISES

try:
    from tests.implementations.a01_critical_points import CORRECT, WRONG
except ModuleNotFoundError:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from implementations.a01_critical_points import CORRECT, WRONG

# torch.func's forward-mode AD (used by the checks' oracles) loads its decompositions with
# torch.jit.script, which torch 2.13 deprecates; harmless here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning")

#: Wrong implementations the hidden checks accept: defects of the checks, reported to the
#: maintainer. Marked ``xfail(strict=True)``, so fixing the checks makes the test XPASS (and fail)
#: until the entry is removed here. Empty since the checks of 2026-11-22 03:20 (they rejected
#: wrong_hessian_ignores_h, wrong_find_cp_diagonal_classification,
#: wrong_find_cp_keeps_unconverged, wrong_escape_saddle_always_plus and
#: wrong_escape_saddle_keeps_higher_loss before).
CHECK_GAPS: dict[str, str] = {}

#: Correct implementations the hidden checks reject: defects of the checks (or of the
#: specification), reported to the maintainer; their hidden test is ``xfail(strict=True)``.
REJECTED_CORRECT: dict[str, str] = {}

#: For some mistakes, a phrase the failure message must contain: the checks reject them for the
#: intended reason, not by accident.
EXPECTED_MESSAGE: dict[str, str] = {
    "wrong_gradient_mutates_theta": "modified its input array in place",
    "wrong_hessian_not_symmetrized": "exactly symmetric",
    "wrong_classify_degenerate_first": "expected 'saddle point', got 'degenerate'",
    "wrong_escape_ignores_tol": "expected None",
    "wrong_escape_scaled_by_eigenvalue": "unit norm",
    "wrong_ratio_returns_count": "expected 1, got 3",
    "wrong_loss_hessian_numpy": "expected a torch.Tensor",
    "wrong_loss_hessian_first_parameter": "expected shape",
    "wrong_loss_hessian_perturbs_in_place": "changed the model's parameters",
    "wrong_find_cp_no_dedup": "list each once",
    "wrong_find_cp_exact_dedup": "list each once",
    "wrong_find_cp_diagonal_classification": "is a saddle point, got 'local minimum'",
    "wrong_find_cp_keeps_unconverged": "is not a critical point",
    "wrong_escape_saddle_scaled_by_eigenvalue": "expected step_size",
    "wrong_escape_saddle_ignores_step_size": "expected step_size",
    "wrong_escape_saddle_most_positive_curvature": "not along an eigenvector",
    "wrong_escape_saddle_not_in_place": "moved by 0,",
    "wrong_escape_saddle_ignores_tol": "expected False",
    "wrong_escape_saddle_always_plus": "keep the better of the two",
    "wrong_escape_saddle_keeps_higher_loss": "keep the better of the two",
}


define_tests(globals(), EXERCISES, CORRECT, WRONG, check_gaps=CHECK_GAPS,
             rejected_correct=REJECTED_CORRECT, expected_message=EXPECTED_MESSAGE,
             assignment="a01_critical_points")
