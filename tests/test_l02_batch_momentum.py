"""Fast unit tests of the helpers that lecture 2 added to wwit.batching and wwit.l02_sharpness."""

from __future__ import annotations

import numpy as np
import torch

from wwit.batching import fit_overhead_and_cost, time_updates, train_to_targets
from wwit.l02_sharpness import steps_to_escape


def test_fit_overhead_and_cost_recovers_a_line():
    B = np.array([1, 4, 16, 64, 256, 1024])
    for relative in (True, False):
        a, c = fit_overhead_and_cost(B, 2e-4 + 3e-7 * B, relative=relative)
        assert np.isclose(a, 2e-4) and np.isclose(c, 3e-7)


def test_time_updates_times_each_update():
    torch.manual_seed(0)
    X, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    model = torch.nn.Linear(5, 3)
    before = model.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seconds = time_updates(model, optimizer, X, y, 8, num_updates=4)
    assert seconds.shape == (4,) and (seconds > 0).all()
    assert not torch.equal(before, model.weight)  # the updates were made


def test_train_to_targets_measures_each_target_once_in_order():
    torch.manual_seed(0)
    X = torch.randn(60, 4)
    y = (X[:, 0] > 0).long()  # separable: the loss keeps falling
    model = torch.nn.Linear(4, 2)
    calls = []
    rows = train_to_targets(
        model,
        X,
        y,
        60,
        1.0,
        [0.1, 0.3],
        max_epochs=2000,
        measure=lambda m: calls.append(1) or {"k": len(calls)},
        check_every=1,
    )
    assert [r["target"] for r in rows] == [0.3, 0.1] and [r["k"] for r in rows] == [1, 2]
    assert all(r["train_loss"] < r["target"] for r in rows)
    assert rows[0]["num_updates"] <= rows[1]["num_updates"]


def _product(w, x, y):
    return ((y - w[0] * w[1] * x) ** 2).mean()


def test_steps_to_escape_matches_a_hand_loop_and_momentum_escapes_sooner():
    x = torch.linspace(-1, 1, 8, dtype=torch.float64)
    y = x.clone()
    w0 = torch.tensor([[1e-3, 2e-3], [2e-3, 1e-3]], dtype=torch.float64)
    steps, losses = steps_to_escape(_product, w0, x, y, 8, 0.1, drop=0.1, max_steps=5000)
    w = w0[0].clone()  # full-batch gradient descent by hand, first run
    for t in range(1, int(steps[0]) + 1):
        w = w - 0.1 * torch.func.grad(_product)(w, x, y)
        assert np.isclose(_product(w, x, y).item(), losses[t, 0])
    assert losses[int(steps[0]), 0] <= losses[0, 0] - 0.1 < losses[int(steps[0]) - 1, 0]
    heavy, _ = steps_to_escape(_product, w0, x, y, 8, 0.1, momentum=0.9, drop=0.1, max_steps=5000)
    assert (heavy < steps).all()


def test_steps_to_escape_reports_nan_when_stuck():
    x = torch.ones(4, dtype=torch.float64)
    steps, losses = steps_to_escape(
        _product, torch.zeros(1, 2, dtype=torch.float64), x, x, 2, 0.1, drop=0.1, max_steps=5
    )
    assert np.isnan(steps).all() and losses.shape == (6, 1)
