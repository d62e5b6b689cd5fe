"""The checks of ``a07_transfer_learning/transfer_learning.ipynb`` against a library of
implementations.

Every correct alternative in ``tests/implementations/a07_transfer_learning.py`` must pass the
visible and the hidden cases; every common mistake must be rejected by the hidden cases with a
:class:`CheckFailure`; every clause of each docstring is quoted, covered and broken (the
docstring contract). ``fine_tune`` trains the shipped backbone at several seeds: its cases take
seconds, the others milliseconds.
"""

from __future__ import annotations

import pytest
import torch
from implementation_suite import define_tests

from autograder.checks.a07_transfer_learning import EXERCISES
from autograder.checks.core import CheckFailure

try:
    from tests.implementations.a07_transfer_learning import CORRECT, WRONG
except ModuleNotFoundError:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from implementations.a07_transfer_learning import CORRECT, WRONG

#: For some mistakes, a phrase the failure message must contain: the checks reject them for the
#: intended reason, not by accident.
EXPECTED_MESSAGE: dict[str, str] = {
    "wrong_freeze_only_eval": "still have requires_grad = True",
    "wrong_freeze_and_eval": "changed the mode",
    "wrong_freeze_resets_running_stats": "changed the values",
    "wrong_head_float32": "dtype and device",
    "wrong_head_copies_requires_grad": "must be trainable",
    "wrong_head_skips_same_size": "still the old head object",
    "wrong_head_resets_model": "the rest of the model must stay as it was",
    "wrong_groups_keep_frozen": "frozen parameters",
    "wrong_groups_swapped_lrs": "lr must be",
    "wrong_groups_head_first": "the first group must be the backbone's",
    "wrong_groups_generators": "must be a list of parameters",
    "wrong_train_no_zero_grad": "after zeroing the gradients",
    "wrong_train_mean_of_means": "weight each batch's mean loss by its size",
    "wrong_train_global_rng": "same seed gave different orders",
    "wrong_train_fixed_seed": "two different seeds gave the same order",
    "wrong_train_no_reshuffle": "the same order",
    "wrong_train_no_train_mode": "model.train()",
    "wrong_train_tensors": "list of Python floats",
    "wrong_accuracy_leaves_eval": "must be left in it",
    "wrong_accuracy_always_train": "was in evaluation mode",
    "wrong_accuracy_train_mode": "call model.eval() first",
    "wrong_accuracy_tracks_grad": "torch.no_grad()",
    "wrong_accuracy_tensor": "Python float",
    "wrong_fine_tune_from_scratch": "from scratch reaches",
    "wrong_fine_tune_linear_probe": "from scratch reaches",
    "wrong_fine_tune_freezes_after_training": "differ from the pretrained ones",
    "wrong_fine_tune_over_budget": "the budget is 50",
}

# fine_tune's hidden cases run at fixed seeds (FINE_TUNE_SEEDS, where its margin was measured).
define_tests(globals(), EXERCISES, CORRECT, WRONG, expected_message=EXPECTED_MESSAGE,
             assignment="a07_transfer_learning", seed_free=frozenset({"fine_tune"}))


def test_forbidden_names():
    """The course's own accuracy helpers and metrics libraries would do the exercise."""
    for name in ("wwit.pretrained.accuracy", "sklearn.metrics.accuracy_score",
                 "torchmetrics.functional.accuracy"):
        assert EXERCISES["accuracy"].uses_forbidden(name), name
    for name in ("torch.no_grad", "wwit.pretrained", "torch.nn.Module.eval"):
        assert not EXERCISES["accuracy"].uses_forbidden(name), name
    for name in ("train_classifier", "fine_tune"):
        assert EXERCISES[name].uses_forbidden("wwit.l07_transfer.finetune_run"), name
        assert not EXERCISES[name].uses_forbidden("torch.optim.Adam"), name
        assert not EXERCISES[name].uses_forbidden("wwit.pretrained.load_pretrained"), name


def test_fine_tune_counts_steps_of_every_optimizer_and_restores_threads():
    """The step counter is a global hook: it sees optimizers made inside fine_tune, and it is
    removed afterwards; the call leaves the thread count as it found it."""
    threads = torch.get_num_threads()
    over_budget = next(f for f in WRONG["fine_tune"] if f.__name__ == "wrong_fine_tune_over_budget")
    exercise = EXERCISES["fine_tune"]
    case = exercise.cases()[0]
    got = exercise.run_case(over_budget, case)
    assert [run["steps"] for run in got["runs"]] == [150, 150]
    assert torch.get_num_threads() == threads
    with pytest.raises(CheckFailure, match="150 optimizer steps"):
        exercise.compare(got, exercise.expected(case), case)


@pytest.mark.slow
def test_the_scratch_baseline_table_is_what_the_reference_recipe_gives():
    """SCRATCH_ACCURACY is the reference recipe from random initializations (about a minute)."""
    from autograder.checks import a07_transfer_learning as module

    for seed, value in module.SCRATCH_ACCURACY.items():
        assert module._scratch_accuracy(seed, module.PER_CLASS) == pytest.approx(value, abs=1e-4)
