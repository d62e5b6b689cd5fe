"""Fast unit tests of the helpers that lecture 3a adds to ``wwit.l03_race``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wwit.digits import load_digits_split, make_mlp
from wwit.l03_race import (
    adagrad_step_sizes,
    load_digits_train_val_test,
    step_sizes,
    train_recording_loss,
)


def test_step_sizes_of_sgd_are_the_gradients_and_of_adam_lr_for_a_constant_gradient():
    grads = [0.5, -2.0, 3.0]
    assert np.allclose(step_sizes("SGD", grads, lr=0.1), np.abs(grads))
    assert np.allclose(step_sizes("Adam", np.full(4, 0.37), lr=0.01), 1.0, atol=1e-6)


def test_rmsprop_first_step_is_one_over_sqrt_one_minus_alpha():
    assert step_sizes("RMSProp", [0.37])[0] == pytest.approx(1 / np.sqrt(1 - 0.99), rel=1e-6)


def test_summed_adagrad_matches_torch_adagrad():
    rng = np.random.default_rng(0)
    grads = rng.standard_normal(50) * np.geomspace(1e-4, 1e2, 50)
    assert np.allclose(adagrad_step_sizes(grads, "sum"), step_sizes("AdaGrad", grads), rtol=1e-9)


def test_adagrad_forms_on_a_flat_stretch_then_a_large_gradient():
    stream = np.concatenate([np.full(200, 1e-3), np.ones(5)])
    summed, mean = adagrad_step_sizes(stream, "sum"), adagrad_step_sizes(stream, "mean")
    assert summed.max() <= 1.0
    t = np.arange(1, len(stream) + 1)
    assert np.all(mean <= np.sqrt(t) + 1e-12)
    expected = 1.0 / np.sqrt((200 * 1e-6 + 1.0) / 201)  # |g| / sqrt(G_t / t) at t = 201
    assert mean[200] == pytest.approx(expected) and mean[200] > 14


def test_adagrad_step_sizes_are_elementwise_and_reject_unknown_forms():
    grads = np.array([[1.0, 1e-3], [1e-3, 1.0]])
    sigma_2 = np.sqrt((1 + 1e-6) / 2)  # both coordinates: G_2 = 1 + 1e-6, t = 2
    assert np.allclose(adagrad_step_sizes(grads, "mean")[1], [1e-3 / sigma_2, 1 / sigma_2])
    with pytest.raises(ValueError, match="form"):
        adagrad_step_sizes(grads, "median")


def test_splits_are_disjoint_stratified_and_keep_the_lecture_test_split():
    data = load_digits_train_val_test(val_size=0.2, test_size=0.25, seed=0)
    n_train, n_val, n_test = len(data.y_train), len(data.y_val), len(data.y_test)
    assert n_train + n_val + n_test == 1797 and n_test == 450 and n_val == 270
    assert abs(data.X_train.mean().item()) < 1e-5
    assert torch.bincount(data.y_val, minlength=10).min() >= 26
    reference = load_digits_split(test_size=0.25, seed=0, device="cpu")
    assert torch.equal(data.y_test, reference.y_test)
    rows = {tuple(r) for r in data.X_train.numpy().round(4).tolist()}
    assert not any(tuple(r) in rows for r in data.X_val.numpy().round(4).tolist())


def test_train_recording_loss_keeps_the_model_at_each_target():
    data = load_digits_train_val_test(seed=0)
    model = make_mlp(seed=0, device="cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    run = train_recording_loss(
        model, optimizer, data.X_train, data.y_train, num_epochs=3, seed=0, targets=(0.5, 1e-9)
    )
    losses = run["loss"]
    assert len(losses) == 1 + 3 * -(-len(data.y_train) // 64)
    assert 1e-9 not in run["reached"]
    t, copy = run["reached"][0.5]
    assert losses[t] <= 0.5 < losses[:t].min()
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(copy(data.X_train), data.y_train).item()
    assert loss == pytest.approx(losses[t], rel=1e-6)
    assert copy is not model
