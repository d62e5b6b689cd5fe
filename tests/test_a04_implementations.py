"""The checks of ``a04_loss_functions/loss_functions.ipynb`` against a library of implementations.

Every correct alternative in ``tests/implementations/a04_loss_functions.py`` must pass the
visible and the hidden cases; every common mistake must be rejected by the hidden cases; every
clause of each answer cell's docstring is quoted in the checks, covered by a hidden case and
broken by a mistake (the docstring contract). Fast: no notebooks, no kernels.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from implementation_suite import define_tests

from autograder.checks.a04_loss_functions import EXERCISES
from autograder.checks.core import CheckFailure

try:
    from tests.implementations.a04_loss_functions import CORRECT, WRONG
except ModuleNotFoundError:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from implementations.a04_loss_functions import CORRECT, WRONG

#: For some mistakes, a phrase the failure message must contain: the checks reject them for the
#: intended reason, and say so.
EXPECTED_MESSAGE: dict[str, str] = {
    "wrong_one_hot_int_dtype": "expected dtype float64",
    "wrong_one_hot_transposed": "one row per example",
    "wrong_one_hot_flat_index_in_place": "modified its input array in place",
    "wrong_softmax_shifts_in_place": "modified its input array in place",
    "wrong_softmax_float32": "to be float64, got dtype float32",
    "wrong_log_softmax_log_of_softmax": "NaN or inf",
    "wrong_ce_summed_loss": "the sum instead of the mean",
    "wrong_ce_gradient_not_divided_by_n": "not divided by the",
    "wrong_ce_gradient_sign": "the opposite sign",
    "wrong_ce_returns_gradient_first": "expected the loss to be a number",
    "wrong_mse_gradient_without_2": "the factor 2 is missing",
    "wrong_mse_keepdims": "expected the loss to be a number",
    "wrong_mse_flattened_gradient": "dpred: expected the dpred to have shape",
    "wrong_bce_naive_log_sigmoid": "expected a finite number",
    "wrong_bce_per_element_loss": "expected the loss to be a number",
    "wrong_ls_summed": "the sum instead of the mean",
}

define_tests(globals(), EXERCISES, CORRECT, WRONG, expected_message=EXPECTED_MESSAGE,
             any_exception=frozenset({"wrong_softmax_axis_1"}),
             assignment="a04_loss_functions")


def _stub(*args, **kwargs):
    """The released notebook's unanswered function."""
    raise NotImplementedError()


@pytest.mark.parametrize("name", list(EXERCISES))
def test_unanswered_stub_is_not_attempted(name):
    """NotImplementedError propagates (the notebook reports the test as not attempted)."""
    with pytest.raises(NotImplementedError):
        EXERCISES[name].check(_stub, quiet=True)


LOSSES = ["cross_entropy", "mse_loss", "binary_cross_entropy_with_logits",
          "label_smoothing_cross_entropy"]


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("kind", ["float", "numpy scalar", "0-d array"])
def test_the_loss_may_be_any_kind_of_number(name, kind):
    """A Python float, a numpy float64 scalar and a 0-d array are all accepted as the loss."""
    convert = {"float": float, "numpy scalar": np.float64, "0-d array": np.asarray}[kind]

    def answer(*args):
        loss, grad = CORRECT[name][0](*args)
        return convert(loss), grad

    assert EXERCISES[name].check(answer, hidden=True, quiet=True) > 0


@pytest.mark.parametrize("name", LOSSES)
def test_malformed_results_fail_with_a_message(name):
    """Not a pair, a loss that is an array or not a number, a gradient that is a list."""
    def pair_as_dict(*args):
        return dict(zip(("loss", "grad"), CORRECT[name][0](*args), strict=True))

    def loss_of_shape_1(*args):
        loss, grad = CORRECT[name][0](*args)
        return np.array([loss]), grad

    def loss_as_string(*args):
        loss, grad = CORRECT[name][0](*args)
        return str(loss), grad

    def nan_loss(*args):
        return float("nan"), CORRECT[name][0](*args)[1]

    def grad_as_list(*args):
        loss, grad = CORRECT[name][0](*args)
        return loss, grad.tolist()

    for impl, phrase in [(pair_as_dict, "expected a tuple (loss, "),
                         (loss_of_shape_1, "got an array of shape (1,)"),
                         (loss_as_string, "got str"),
                         (nan_loss, "expected a finite number"),
                         (grad_as_list, "to be a numpy.ndarray")]:
        with pytest.raises(CheckFailure, match=re.escape(phrase)):
            EXERCISES[name].check(impl, quiet=True)
