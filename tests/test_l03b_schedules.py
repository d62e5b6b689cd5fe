"""Fast unit tests of the helpers that lecture 3b added to ``wwit.schedules``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.functional import cross_entropy

from wwit.digits import batch_stream, load_digits_split, make_mlp
from wwit.schedules import (
    carve_validation,
    linear_range_test,
    lr_range_test,
    update_to_weight_ratios,
)


@pytest.fixture(scope="module")
def data():
    return load_digits_split(test_size=0.25, seed=0, device="cpu")


@pytest.fixture(scope="module")
def fit(data):
    return carve_validation(data, val_fraction=0.25, seed=0)


def _rows(X: torch.Tensor) -> list[tuple]:
    return [tuple(r) for r in X.numpy().round(5).tolist()]


def test_carve_validation_partitions_the_training_split_only(data, fit):
    n_train = len(data.y_train)
    assert len(fit.y_test) == round(0.25 * n_train)
    assert len(fit.y_train) + len(fit.y_test) == n_train
    assert sorted(_rows(fit.X_train) + _rows(fit.X_test)) == sorted(_rows(data.X_train))
    test_rows = set(_rows(data.X_test))
    assert not test_rows & set(_rows(fit.X_test))
    assert fit.X_train.dtype == torch.float32 and fit.y_train.dtype == torch.int64


def test_carve_validation_is_stratified_and_reproducible(data, fit):
    share = torch.bincount(data.y_train, minlength=10) * 0.25
    assert torch.all((torch.bincount(fit.y_test, minlength=10) - share).abs() <= 1)
    again = carve_validation(data, val_fraction=0.25, seed=0)
    assert torch.equal(again.X_test, fit.X_test) and torch.equal(again.y_train, fit.y_train)
    other = carve_validation(data, val_fraction=0.25, seed=1)
    assert not torch.equal(other.y_test, fit.y_test)


def test_linear_range_test_raises_lr_linearly_and_evaluates_on_schedule(fit):
    model = make_mlp(seed=0, device="cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    before = [p.detach().clone() for p in model.parameters()]
    out = linear_range_test(model, optimizer, batch_stream(fit, 64, seed=0), cross_entropy,
                            fit.X_test, fit.y_test, lr_min=0.01, lr_max=0.5, num_steps=10,
                            eval_every=3)
    assert np.allclose(out["lr"], np.linspace(0.01, 0.5, 10))
    assert len(out["loss"]) == 10
    assert np.allclose(out["eval_lr"], out["lr"][[2, 5, 8, 9]])  # every 3rd step and the last
    assert len(out["val_acc"]) == len(out["val_loss"]) == 4
    assert np.all((out["val_acc"] >= 0) & (out["val_acc"] <= 1))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5)
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_linear_range_test_reports_the_validation_metrics_of_the_model(fit):
    model = make_mlp(seed=0, device="cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    out = linear_range_test(model, optimizer, batch_stream(fit, 64, seed=0), cross_entropy,
                            fit.X_test, fit.y_test, lr_min=0.0, lr_max=0.0, num_steps=4,
                            eval_every=2)
    with torch.no_grad():  # lr = 0 throughout: the model never moves
        logits = make_mlp(seed=0, device="cpu")(fit.X_test)
    acc = (logits.argmax(1) == fit.y_test).float().mean().item()
    assert np.allclose(out["val_acc"], acc)
    assert np.allclose(out["val_loss"], cross_entropy(logits, fit.y_test).item(), rtol=1e-6)


def test_linear_range_test_stops_when_the_loss_is_not_finite(fit):
    model = make_mlp(seed=0, device="cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    out = linear_range_test(model, optimizer, batch_stream(fit, 64, seed=0), cross_entropy,
                            fit.X_test, fit.y_test, lr_min=1e30, lr_max=1e31, num_steps=50,
                            eval_every=5)
    assert len(out["loss"]) < 50 and not np.isfinite(out["loss"][-1])
    assert len(out["lr"]) == len(out["loss"])


def test_update_to_weight_ratios_is_lr_times_gradient_over_weight_for_sgd(fit):
    model = make_mlp(seed=0, device="cpu")
    lr = 0.05
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    X, y = fit.X_train[:64], fit.y_train[:64]

    def step():
        optimizer.zero_grad()
        cross_entropy(model(X), y).backward()
        optimizer.step()

    reference = make_mlp(seed=0, device="cpu")
    cross_entropy(reference(X), y).backward()
    expected = {name: lr * p.grad.norm().item() / p.detach().norm().item()
                for name, p in reference.named_parameters()}
    ratios = update_to_weight_ratios(model, step)
    assert ratios.keys() == expected.keys()
    for name, value in expected.items():
        assert ratios[name] == pytest.approx(value, rel=1e-5)


def test_update_to_weight_ratios_of_zero_weights():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()

    def step():  # moves the weight, leaves the bias at zero
        with torch.no_grad():
            layer.weight += 1.0

    assert update_to_weight_ratios(layer, step) == {"weight": float("inf"), "bias": 0.0}


def test_lr_range_test_still_grows_exponentially_and_stops_on_divergence(fit):
    model = make_mlp(seed=0, device="cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    out = lr_range_test(model, optimizer, batch_stream(fit, 64, seed=0), cross_entropy,
                        lr_min=1e-4, lr_max=10.0, num_steps=200)
    n = len(out["lr"])
    assert np.allclose(out["lr"], 1e-4 * 1e5 ** (np.arange(n) / 199))
    assert n < 200 and out["smoothed"][-1] > 4 * out["smoothed"].min()
