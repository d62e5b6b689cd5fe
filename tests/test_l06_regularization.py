"""Fast unit tests of the helpers of lecture 6 (``wwit.l06_regularization``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from wwit.digits import make_mlp
from wwit.l06_regularization import (
    DROPOUT_SCALINGS,
    FixedAtEvalFractionalMaxPool2d,
    ResidualMLP,
    augmenter,
    dropout_layer_outputs,
    make_cnn,
    make_dropout_mlp,
    mean_confidence,
    polynomial_bias_variance,
    scores,
    small_digits,
    train,
)


@pytest.fixture(scope="module")
def data():
    return small_digits(num_train=300, seed=0, device="cpu")


def test_small_digits_splits_are_stratified_disjoint_and_standardized(data):
    assert data.X_train.shape == (300, 64) and data.X_test.shape == (450, 64)
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 1797
    counts = torch.bincount(data.y_train, minlength=10)
    assert counts.min() >= 29 and counts.max() <= 31
    assert abs(data.X_train.mean().item()) < 1e-5 and abs(data.X_train.std().item() - 1) < 1e-2
    assert data.X_train.min().item() == pytest.approx(data.background, abs=1e-6)
    rows = {tuple(r) for r in data.X_train.numpy().round(4).tolist()}
    assert not any(tuple(r) in rows for r in data.X_val.numpy().round(4).tolist()[:50])


def test_dropout_mlp_with_p_zero_is_the_digits_mlp(data):
    net = make_dropout_mlp(32, p=0.0, seed=3, device="cpu")
    reference = make_mlp(32, 3, device="cpu")
    net.eval()
    assert isinstance(net[2], nn.Dropout)
    assert torch.equal(net(data.X_val), reference(data.X_val))


def _shifted(image: torch.Tensor, dy: int, dx: int, background: float) -> torch.Tensor:
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1), value=background)
    return padded[1 + dy : 9 + dy, 1 + dx : 9 + dx]


def test_shift_is_a_random_crop_of_the_padded_image(data):
    X = data.X_train[:40]
    out = augmenter("shift", data.background)(X, torch.Generator().manual_seed(0))
    seen = set()
    for x, o in zip(X, out, strict=True):
        image = x.reshape(8, 8)
        matches = [
            (dy, dx)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if torch.equal(_shifted(image, dy, dx, data.background), o.reshape(8, 8))
        ]
        assert matches
        seen.update(matches)
    assert len(seen) > 4


def test_flip_noise_and_probability(data):
    X, gen = data.X_train[:20], torch.Generator().manual_seed(0)
    flipped = augmenter("flip", data.background)(X, gen)
    assert torch.equal(flipped.reshape(-1, 8, 8), X.reshape(-1, 8, 8).flip(2))
    assert torch.equal(augmenter("noise", data.background, prob=0.0)(X, gen), X)
    half = augmenter("flip", data.background, prob=0.5)(data.X_train, gen)
    changed = (half != data.X_train).any(dim=1).float().mean().item()
    assert 0.3 < changed < 0.6  # symmetric images do not change when mirrored
    noisy = augmenter("noise", data.background, noise_std=2.0)(data.X_train, gen)
    assert abs((noisy - data.X_train).std().item() - 2.0) < 0.05
    with pytest.raises(ValueError):
        augmenter("rotate", data.background)


def test_augmentations_are_reproducible_with_a_seeded_generator(data):
    shift = augmenter("shift", data.background, prob=0.5)
    a = shift(data.X_train, torch.Generator().manual_seed(7))
    b = shift(data.X_train, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_residual_mlp_stochastic_depth(data):
    net = ResidualMLP(width=16, num_blocks=4, survival_last=0.5, seed=0)
    assert net.survival == pytest.approx([0.875, 0.75, 0.625, 0.5])
    net.eval()
    assert torch.equal(net(data.X_val[:5]), net(data.X_val[:5]))
    net.train()
    torch.manual_seed(0)
    assert not torch.equal(net(data.X_val[:5]), net(data.X_val[:5]))
    plain = ResidualMLP(width=16, num_blocks=4, survival_last=1.0, seed=0).train()
    assert torch.equal(plain(data.X_val[:5]), plain(data.X_val[:5]))


def test_fractional_pool_random_in_training_fixed_at_eval():
    x = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    pool = FixedAtEvalFractionalMaxPool2d(2, output_size=5)
    assert pool(x).shape == (3, 4, 5, 5)
    pool.eval()
    assert torch.equal(pool(x), pool(x))
    first = pool(x)
    pool.eval_seed = 1
    assert not torch.equal(pool(x), first)
    assert make_cnn("fractional", device="cpu")(x[:, 0].reshape(3, 64)).shape == (3, 10)
    with pytest.raises(ValueError):
        make_cnn("average")


def test_train_fits_and_returns_curves(data):
    model = make_dropout_mlp(32, seed=0, device="cpu")
    curves = train(model, data, torch.optim.Adam(model.parameters(), lr=1e-2), 30, eval_every=10)
    assert list(curves["epoch"]) == [10, 20, 30]
    assert not model.training
    assert curves["train_loss"][-1] < curves["train_loss"][0]
    assert scores(model, data.X_val, data.y_val) == pytest.approx(
        (curves["val_loss"][-1], curves["val_err"][-1])
    )


def test_polynomial_bias_variance_decomposition():
    result = polynomial_bias_variance(range(0, 15, 2), num_sets=50, num_points=15)
    # the test error is measured on fresh labels: the identity holds up to their sampling noise
    expected = result["bias2"] + result["variance"] + result["noise"]
    assert np.allclose(result["test_mse"], expected, rtol=0.05)
    assert not np.allclose(result["test_mse"], expected, rtol=1e-6)
    assert (np.diff(result["train_mse"]) <= 1e-12).all()
    full = polynomial_bias_variance([14], num_sets=5, num_points=15)
    assert full["train_mse"][0] < 1e-6


def test_polynomial_ridge_trades_variance_for_bias():
    plain = polynomial_bias_variance([14], num_sets=100)
    assert polynomial_bias_variance([14], num_sets=100, ridge=0.0)["variance"] == pytest.approx(
        plain["variance"]
    )
    weak, strong = (polynomial_bias_variance([14], num_sets=100, ridge=r) for r in (1e-2, 1.0))
    assert strong["variance"][0] < weak["variance"][0] < plain["variance"][0] / 10
    assert strong["bias2"][0] > weak["bias2"][0]
    assert strong["train_mse"][0] > weak["train_mse"][0] > plain["train_mse"][0]
    # ridge regression in the Legendre basis, checked against the normal equations
    x = np.linspace(-1, 1, 15)
    V = np.polynomial.legendre.legvander(x, 3)
    rng = np.random.default_rng(0)
    y = np.sin(np.pi * x) + 0.3 * rng.normal(size=(1, 15))
    coef = np.linalg.solve(V.T @ V + 0.5 * np.eye(4), V.T @ y[0])
    train_mse = float(((V @ coef - y[0]) ** 2).mean())
    assert polynomial_bias_variance([3], num_sets=1, ridge=0.5)["train_mse"][0] == pytest.approx(
        train_mse
    )


def test_train_in_mini_batches(data):
    model = make_dropout_mlp(16, seed=0, device="cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    steps = []
    optimizer.register_step_post_hook(lambda *args: steps.append(1))
    curves = train(model, data, optimizer, 2, eval_every=1, batch_size=32)
    assert len(steps) == 2 * (300 // 32)
    assert list(curves["epoch"]) == [1, 2] and not model.training
    a, b = (make_dropout_mlp(16, seed=0, device="cpu") for _ in range(2))
    for net in (a, b):
        train(net, data, torch.optim.SGD(net.parameters(), lr=0.1), 2, seed=3, batch_size=32)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_mean_confidence(data):
    model = make_dropout_mlp(16, seed=0, device="cpu").eval()
    conf = mean_confidence(model, data.X_val)
    probs = torch.softmax(model(data.X_val), dim=1).detach()
    assert conf == pytest.approx(probs.max(dim=1).values.mean().item())
    assert 0.1 <= conf <= 1.0


@pytest.mark.parametrize("scaling", DROPOUT_SCALINGS)
def test_dropout_layer_conventions(scaling):
    out = dropout_layer_outputs(p=0.3, scaling=scaling, num_masks=20000)
    assert abs(out["y_train"].mean() - out["expected_train"]) < 0.05 * abs(out["expected_train"])
    ratio = out["y_test"] / out["expected_train"]
    assert ratio == pytest.approx(1 / 0.7 if scaling == "no scaling (bug)" else 1.0)
