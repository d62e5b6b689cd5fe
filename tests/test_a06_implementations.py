"""The checks of ``a06_regularization/regularization.ipynb`` against a library of
implementations.

Every correct alternative in ``tests/implementations/a06_regularization.py`` must pass the
visible and the hidden cases; every common mistake must be rejected by the hidden cases with a
:class:`CheckFailure`; every clause of each docstring is quoted, covered and broken (the
docstring contract). The random exercises also have tests of their design: their statistical
checks hold for the correct implementations at many seeds, the cases are sized so that those
checks are meaningful, and a generator is never part of a case. Fast: no notebooks, no kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
from implementation_suite import define_tests

from autograder.checks import a06_regularization as checks
from autograder.checks.a06_regularization import EXERCISES
from autograder.checks.core import CheckFailure

try:
    from tests.implementations.a06_regularization import CORRECT, WRONG
except ModuleNotFoundError:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from implementations.a06_regularization import CORRECT, WRONG

#: For some mistakes, a phrase the failure message must contain: the checks reject them for the
#: intended reason, not by accident.
EXPECTED_MESSAGE: dict[str, str] = {
    "wrong_l2_no_half": "the factor 0.5 is missing",
    "wrong_l2_in_place": "modified its input in place",
    "wrong_sgd_in_place": "modified its input in place",
    "wrong_adamw_in_place": "modified its input in place",
    "wrong_adamw_l2": "that is Adam with an L2 penalty",
    "wrong_dropout_keep_probability": "is the probability reversed?",
    "wrong_dropout_per_row": "dropped independently",
    "wrong_dropout_no_scaling": "not scaled by 1 / (1 - p)",
    "wrong_dropout_unscaled_mask": "must hold only 0 (dropped) and 1 / (1 - p)",
    "wrong_dropout_global_rng": "generators of the same seed gave different results",
    "wrong_dropout_fixed_seed": "generators of two different seeds gave the same result",
    "wrong_dropout_in_eval": "mask must be None",
    "wrong_dropout_p_zero_mask": "with p = 0 mask must be None",
    "wrong_dropout_in_place": "modified its input array in place",
    "wrong_dropout_backward_none": "got None",
    "wrong_dropconnect_per_example": "one mask per call",
    "wrong_dropconnect_per_unit": "dropped independently",
    "wrong_dropconnect_activations": "not activations",
    "wrong_flip_vertical": "flipped vertically",
    "wrong_flip_per_channel": "flip all channels together",
    "wrong_flip_no_copy": "shares memory with the input",
    "wrong_flip_view": "shares memory with the input",
    "wrong_flip_whole_batch": "images flipped",
    "wrong_crop_off_by_one": "were never drawn",
    "wrong_crop_uses_h_for_w": "were never drawn",
    "wrong_crop_reflect": "zeros on each side",
    "wrong_crop_per_channel": "cut the same window from every channel",
    "wrong_crop_no_copy": "shares memory with the input",
    "wrong_depth_whole_batch": "samples with their branch dropped",
    "wrong_depth_no_scaling": "divide the kept branch by 1 - p",
    "wrong_depth_per_entry": "one draw per sample",
    "wrong_depth_nan_at_one": "no division by 1 - p = 0",
    "wrong_ema_in_place": "modified its input in place",
    "wrong_ema_reversed": "decay is the weight of the old average",
    "wrong_ensemble_ties_to_last": "a tie: it goes to the lowest class index",
    "wrong_ensemble_float_labels": "expected integer labels",
    "wrong_stopping_one_indexed": "epochs are 0-indexed",
    "wrong_stopping_floats": "to be an int",
}

define_tests(globals(), EXERCISES, CORRECT, WRONG, expected_message=EXPECTED_MESSAGE,
             assignment="a06_regularization")

RANDOM = ("dropout_forward", "dropconnect_forward", "random_horizontal_flip", "random_crop",
          "stochastic_depth")


@pytest.mark.parametrize("name", RANDOM)
def test_random_exercises_pass_at_many_seeds(name):
    """The statistical checks (rates, independence, reachable offsets, other seeds giving other
    results) never reject a correct implementation: 20 hidden seeds, every correct one."""
    for impl in CORRECT[name]:
        for seed in range(100, 120):
            assert EXERCISES[name].check(impl, hidden=True, quiet=True, seed=seed) > 0


@pytest.mark.parametrize("name", RANDOM)
def test_random_cases_store_a_seed_not_a_generator(name):
    """A case holds the seed of the generator the call builds (a generator is no case data),
    and the hidden seeds depend on the hidden seed."""
    for hidden in (False, True):
        for case in EXERCISES[name].cases(hidden=hidden):
            assert isinstance(case.data["seed"], int)
            assert not any(isinstance(a, np.random.Generator) for a in case.args)
    first = [c.data["seed"] for c in EXERCISES[name].cases(hidden=True, seed=1)]
    second = [c.data["seed"] for c in EXERCISES[name].cases(hidden=True, seed=2)]
    assert first != second


def test_statistical_checks_are_sized_to_matter():
    """The rate checks of the central hidden cases are tight enough to see a reversed
    probability, and every crop case covering 'uniform' reaches every offset but with a
    negligible probability of missing one."""
    masked = {"dropout_forward": lambda args: (args[0], args[1]),  # (x, p)
              "dropconnect_forward": lambda args: (args[1], args[3])}  # (W, p)
    for name, of in masked.items():
        reversible = [abs(1 - 2 * p) > 2 * checks._hoeffding(a.size)
                      for a, p in (of(c.args) for c in EXERCISES[name].cases(hidden=True)
                                   if "drop_prob" in c.covers)]
        assert sum(reversible) >= 2, name
    for case in EXERCISES["random_crop"].cases(hidden=True):
        if "uniform" in case.covers:
            assert case.data["reach"], case.label
    for name in RANDOM:
        assert any(c.data["varies"] for c in EXERCISES[name].cases(hidden=True)
                   if "rng" in c.covers), name
    assert checks._hoeffding(10_000) < 0.04


def test_rng_is_the_only_source_of_randomness():
    """Same seed, same result; another seed, another result (for a case where that is all but
    certain); a function ignoring rng is caught either way."""
    exercise = EXERCISES["dropout_forward"]
    case = exercise.cases(hidden=True)[0]
    correct = CORRECT["dropout_forward"][0]
    got = exercise.run_case(correct, case)
    assert got["repeatable"] and not got["same_for_other_seed"]


def test_malformed_results_fail():
    """A result that is not the documented tuple is a CheckFailure, not a crash."""
    for name in ("dropout_forward", "dropconnect_forward", "l2_penalty", "ensemble_predict",
                 "early_stopping"):
        with pytest.raises(CheckFailure, match="must return a tuple"):
            EXERCISES[name].check(lambda *args, **kwargs: 0.0, quiet=True)


def test_forbidden_names():
    for exercise in EXERCISES.values():
        if exercise.name != "early_stopping":
            assert exercise.uses_forbidden("torch.optim.AdamW")
            assert exercise.uses_forbidden("torch.nn.functional.dropout")
        assert not exercise.uses_forbidden("numpy.random.Generator")
