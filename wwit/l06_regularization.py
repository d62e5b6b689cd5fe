"""Lecture 6: regularization, measured on a small digits training set.

The regularizers themselves come from PyTorch (``weight_decay`` of ``torch.optim.SGD``, ``Adam``
and ``AdamW``, ``nn.Dropout``, ``nn.FractionalMaxPool2d``, ``torch.optim.swa_utils``); this
module holds what several cells of the lecture share: the data split, the networks, a training
loop (full-batch by default), the image augmentations, the polynomial bias-variance experiment and
the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

from wwit.device import get_device
from wwit.digits import make_mlp

# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmallDigits:
    """A small training set, a validation set and a test set of digits, standardized.

    Every pixel ``x`` (raw intensity ``0..16``) becomes ``(x - mean) / std`` with the *scalar*
    mean and standard deviation of all pixels of the training images, as image pipelines
    normalize each colour channel. One scalar for all pixels keeps a shifted or flipped image
    consistent: a pixel that moves takes its value with it.

    Attributes:
        X_train: ``float32`` ``(N_train, 64)``, the 8 x 8 images flattened row by row.
        y_train: ``int64`` labels ``(N_train,)``.
        X_val: Validation images ``(N_val, 64)``.
        y_val: Validation labels.
        X_test: Test images ``(N_test, 64)``.
        y_test: Test labels.
        mean: Mean pixel of the training images (raw units).
        std: Standard deviation of the training pixels (raw units).
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    mean: float
    std: float

    @property
    def background(self) -> float:
        """float: The standardized value of a blank pixel, ``(0 - mean) / std``."""
        return -self.mean / self.std


def small_digits(
    num_train: int = 300,
    test_size: float = 0.25,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> SmallDigits:
    """Split digits into a small training set, a validation set and a test set.

    The test split is the one of :func:`wwit.digits.load_digits_split` (same ``test_size`` and
    ``seed``, stratified). Of the remaining images, ``num_train`` (stratified: the same number
    of each digit) form the training set and all the others the validation set.

    Args:
        num_train: Number of training images.
        test_size: Fraction of all 1797 images held out for testing.
        seed: Seed of both splits.
        device: Where the tensors live; ``None`` means :func:`wwit.device.get_device`.

    Returns:
        SmallDigits: The standardized splits.
    """
    X, y = load_digits(return_X_y=True)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, train_size=num_train, random_state=seed, stratify=y_rest
    )
    mean, std = float(X_train.mean()), float(X_train.std())
    device = get_device() if device is None else torch.device(device)

    def to_x(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((a - mean) / std, dtype=torch.float32, device=device)

    def to_y(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.int64, device=device)

    return SmallDigits(
        to_x(X_train),
        to_y(y_train),
        to_x(X_val),
        to_y(y_val),
        to_x(X_test),
        to_y(y_test),
        mean,
        std,
    )


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------


def make_dropout_mlp(
    hidden: int = 128, p: float = 0.0, seed: int = 0, device: torch.device | str | None = None
) -> nn.Sequential:
    """The MLP of :func:`wwit.digits.make_mlp` with ``nn.Dropout(p)`` after the hidden ReLU.

    ``logits = W2 D(relu(W1 x + b1)) + b2``, where in training mode ``D`` zeroes each unit with
    probability ``p`` and multiplies the survivors by ``1 / (1 - p)`` (inverted dropout), and in
    evaluation mode is the identity. The initialization is that of ``make_mlp(hidden, seed)``:
    with ``p = 0`` the two networks are the same function.

    Args:
        hidden: Number of hidden units.
        p: Drop probability of each hidden unit (not a threshold on its value).
        seed: Seed of the initialization.
        device: Where the parameters live; ``None`` means :func:`wwit.device.get_device`.

    Returns:
        nn.Sequential: ``Linear, ReLU, Dropout(p), Linear``.
    """
    base = make_mlp(hidden=hidden, seed=seed, device=device)
    return nn.Sequential(base[0], base[1], nn.Dropout(p), base[2])


class ResidualMLP(nn.Module):
    """A residual MLP whose blocks are dropped at random in training (stochastic depth).

    ``h_0 = relu(W_in x)``, then for every block ``l = 1..L``

    ``h_l = h_{l-1} + (b_l / p_l) f_l(h_{l-1})``,  ``f_l(h) = W_l2 relu(W_l1 h)``,

    with ``b_l ~ Bernoulli(p_l)`` drawn for every example in training mode (a dropped block
    passes its input through unchanged) and ``b_l / p_l`` replaced by its expectation 1 in
    evaluation mode, so that ``E[h_l | h_{l-1}] = h_{l-1} + f_l(h_{l-1})`` in both modes. The
    survival probabilities fall linearly with depth, ``p_l = 1 - (l / L)(1 - p_L)`` (Huang et
    al., 2016); ``p_L = 1`` is a plain residual network. Huang et al. drop a block for the whole
    mini-batch and scale by ``p_l`` at test time instead; the expectation is the same.

    Args:
        width: Width of the residual stream.
        num_blocks: ``L``.
        survival_last: ``p_L``, the survival probability of the last block.
        seed: Seed of the initialization.
        d_in: Input features.
        num_classes: Output logits.
    """

    def __init__(
        self,
        width: int = 64,
        num_blocks: int = 4,
        survival_last: float = 1.0,
        seed: int = 0,
        d_in: int = 64,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.stem = nn.Linear(d_in, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
            for _ in range(num_blocks)
        )
        self.head = nn.Linear(width, num_classes)
        self.survival = [
            1.0 - (k / num_blocks) * (1.0 - survival_last) for k in range(1, num_blocks + 1)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of inputs ``(N, d_in)``."""
        h = torch.relu(self.stem(x))
        for block, p in zip(self.blocks, self.survival, strict=True):
            if self.training and p < 1.0:
                keep = torch.rand(len(h), 1, device=h.device) < p
                h = h + keep / p * block(h)
            else:
                h = h + block(h)
        return self.head(h)


class FixedAtEvalFractionalMaxPool2d(nn.FractionalMaxPool2d):
    """``nn.FractionalMaxPool2d`` with random pooling regions in training, fixed ones at test.

    PyTorch's layer draws new pseudo-random regions at *every* call, in ``eval()`` mode too, so
    the same image can get different predictions. Here, in evaluation mode, the regions of
    channel ``c`` come from samples ``u_c`` drawn once from a generator seeded with
    ``eval_seed``: the same regions for every image and every call. Graham (2014) tests with one
    fixed draw or averages the predictions of several draws (change ``eval_seed`` between them).

    Args:
        *args: As for ``nn.FractionalMaxPool2d``.
        eval_seed: Seed of the fixed regions used in evaluation mode.
        **kwargs: As for ``nn.FractionalMaxPool2d``.
    """

    def __init__(self, *args, eval_seed: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eval_seed = eval_seed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``(N, C, H, W)`` to ``(N, C, H_out, W_out)``."""
        if self.training:
            return super().forward(x)
        gen = torch.Generator().manual_seed(self.eval_seed)
        samples = torch.rand(1, x.shape[1], 2, generator=gen).to(x.device, x.dtype)
        return F.fractional_max_pool2d(
            x,
            self.kernel_size,
            self.output_size,
            self.output_ratio,
            _random_samples=samples.expand(x.shape[0], -1, -1),
        )


def make_cnn(
    pool: str = "max", channels: int = 16, seed: int = 0, device: torch.device | str | None = None
) -> nn.Sequential:
    """A one-layer CNN on the flattened 8 x 8 images: conv, ReLU, pooling, linear.

    ``pool = "max"`` halves the image with ``nn.MaxPool2d(2)`` (8 x 8 to 4 x 4);
    ``"fractional"`` shrinks it by the non-integer factor ``alpha = 8 / 5 = 1.6`` (8 x 8 to
    5 x 5; Graham takes ``alpha`` in ``(1, 2)``, his favourite ``sqrt(2)``) with
    :class:`FixedAtEvalFractionalMaxPool2d` (2 x 2 regions at pseudo-random positions). The
    convolution is 3 x 3 with padding 1; the pooled maps are flattened into a linear layer.

    Args:
        pool: ``"max"`` or ``"fractional"``.
        channels: Channels of the convolution.
        seed: Seed of the initialization.
        device: Where the parameters live; ``None`` means :func:`wwit.device.get_device`.

    Returns:
        nn.Sequential: Maps ``(N, 64)`` to logits ``(N, 10)``; the pooling layer is ``[3]``.
    """
    if pool not in ("max", "fractional"):
        raise ValueError(f"pool must be 'max' or 'fractional', got {pool!r}")
    torch.manual_seed(seed)
    if pool == "max":
        pooling, side = nn.MaxPool2d(2), 4
    else:
        pooling, side = FixedAtEvalFractionalMaxPool2d(2, output_size=5), 5
    model = nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, channels, 3, padding=1),
        nn.ReLU(),
        pooling,
        nn.Flatten(),
        nn.Linear(channels * side * side, 10),
    )
    return model.to(get_device() if device is None else torch.device(device))


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def scores(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and error rate of ``model`` on ``(X, y)``, in its current mode.

    Args:
        model: Maps ``(N, 64)`` to logits ``(N, 10)``.
        X: Inputs.
        y: Labels ``(N,)``.

    Returns:
        tuple[float, float]: ``(loss, error)`` with ``error = 1 - accuracy``.
    """
    logits = model(X)
    err = (logits.argmax(dim=1) != y).float().mean().item()
    return F.cross_entropy(logits, y).item(), err


@torch.no_grad()
def mean_confidence(model: nn.Module, X: torch.Tensor) -> float:
    """The mean over ``X`` of the largest predicted probability, ``mean_n max_k softmax(f(x_n))_k``.

    A measure of (over)confidence: near 1 when the network is sure of every answer, right or
    wrong. The model is used in its current mode.

    Args:
        model: Maps ``(N, 64)`` to logits ``(N, 10)``.
        X: Inputs.

    Returns:
        float: The mean largest probability, in ``[1 / 10, 1]``.
    """
    return F.softmax(model(X), dim=1).max(dim=1).values.mean().item()


def train(
    model: nn.Module,
    data: SmallDigits,
    optimizer: torch.optim.Optimizer,
    num_epochs: int,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    seed: int = 0,
    eval_every: int = 10,
    scheduler=None,
    on_step: Callable[[int], None] | None = None,
    batch_size: int | None = None,
) -> dict[str, np.ndarray]:
    """Training on the cross-entropy: full-batch (one optimizer step per epoch) by default.

    Every epoch computes ``L(w) = 1/N sum_n -log softmax(f_w(a(x_n)))_{y_n}`` on the
    whole training set, ``a`` the augmentation (a fresh random draw every epoch) or the
    identity, in ``train()`` mode (dropout, stochastic depth and BatchNorm's batch statistics
    active), and takes one step of ``optimizer``; then ``scheduler.step()`` and
    ``on_step(epoch)``. With ``batch_size``, the epoch instead shuffles the training set and takes
    one step per mini-batch of ``batch_size`` images (the last, smaller one dropped), the loss
    averaged over the mini-batch. Every ``eval_every`` epochs the model is scored in ``eval()``
    mode on the clean training set and the validation set.

    Args:
        model: The network.
        data: The splits (the test split is never touched).
        optimizer: A ``torch.optim`` optimizer over ``model.parameters()``.
        num_epochs: Number of epochs (= steps).
        augment: ``augment(X, generator) -> X'``, or ``None``.
        seed: Seed of the augmentations' generator.
        eval_every: Score every this many epochs (and after the last).
        scheduler: Optional ``torch.optim.lr_scheduler`` object, stepped once per epoch.
        on_step: Optional callback, called with the epoch number ``1..num_epochs`` after the
            epoch's steps (for example to update an averaged model).
        batch_size: Mini-batch size, or ``None`` for full-batch steps. The shuffling uses the
            generator seeded with ``seed`` too.

    Returns:
        dict[str, np.ndarray]: ``epoch`` (when scored), and ``train_loss``, ``train_err``,
        ``val_loss``, ``val_err`` at those epochs. The model is left in ``eval()`` mode.
    """
    gen = torch.Generator().manual_seed(seed)
    curves: dict[str, list[float]] = {
        k: [] for k in ("epoch", "train_loss", "train_err", "val_loss", "val_err")
    }
    for epoch in range(1, num_epochs + 1):
        model.train()
        X = data.X_train if augment is None else augment(data.X_train, gen)
        if batch_size is None:
            batches = [slice(None)]
        else:
            order = torch.randperm(len(X), generator=gen).to(X.device)
            batches = [order[i : i + batch_size]
                       for i in range(0, len(X) - batch_size + 1, batch_size)]
        for rows in batches:
            optimizer.zero_grad()
            F.cross_entropy(model(X[rows]), data.y_train[rows]).backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if on_step is not None:
            on_step(epoch)
        if epoch % eval_every == 0 or epoch == num_epochs:
            model.eval()
            train_loss, train_err = scores(model, data.X_train, data.y_train)
            val_loss, val_err = scores(model, data.X_val, data.y_val)
            for k, v in zip(curves, (epoch, train_loss, train_err, val_loss, val_err), strict=True):
                curves[k].append(v)
    model.eval()
    return {k: np.array(v) for k, v in curves.items()}


# --------------------------------------------------------------------------------------------
# Augmentations
# --------------------------------------------------------------------------------------------

#: The augmentations of :func:`augmenter`.
AUGMENTATIONS = ("shift", "flip", "noise")


def _translate(images: torch.Tensor, background: float, max_shift: int,
               generator: torch.Generator) -> torch.Tensor:
    """Move each 8 x 8 image by a uniformly random ``(dy, dx)`` in ``-max_shift..max_shift``.

    An affine warp, as ``torchvision.transforms.RandomAffine(translate=...)`` does it: the
    output pixel ``(i, j)`` samples the input at ``(i - dy, j - dx)`` (nearest pixel; blank,
    ``background``, outside the image). In ``F.affine_grid``'s coordinates a pixel is ``2 / 8``
    wide.
    """
    n, m = len(images), max_shift
    offsets = [torch.randint(0, 2 * m + 1, (n,), generator=generator) - m for _ in range(2)]
    theta = torch.zeros(n, 2, 3, dtype=images.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = offsets[1].to(images.dtype) * (2 / 8)
    theta[:, 1, 2] = offsets[0].to(images.dtype) * (2 / 8)
    grid = F.affine_grid(theta.to(images.device), [n, 1, 8, 8], align_corners=False)
    def warp(a: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(a[:, None], grid, mode="nearest", padding_mode="zeros",
                             align_corners=False)[:, 0]

    inside = warp(torch.ones_like(images)) > 0.5
    return torch.where(inside, warp(images), torch.full_like(images, background))


def augmenter(
    kind: str, background: float, prob: float = 1.0, max_shift: int = 1, noise_std: float = 1.0
) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """A random image transformation ``a(X, generator)`` for flattened 8 x 8 images.

    Each image is transformed with probability ``prob`` (independently) and kept otherwise:

    * ``"shift"``: move the digit by a uniformly random ``(dy, dx)``, ``|dy|, |dx| <=
      max_shift`` (``(0, 0)`` included), filling the uncovered border with blank pixels (the
      same images as a random crop of the image padded by ``max_shift``);
    * ``"flip"``: mirror left-right, ``x[i, j] -> x[i, 7 - j]``;
    * ``"noise"``: add ``N(0, noise_std^2)`` to every pixel.

    Random numbers come from the given CPU generator, so a seeded generator reproduces them.

    Args:
        kind: One of :data:`AUGMENTATIONS`.
        background: Value of a blank pixel in the images' units (padding).
        prob: Probability that an image is transformed.
        max_shift: Largest shift in pixels (``"shift"``).
        noise_std: Standard deviation of the noise (``"noise"``).

    Returns:
        Callable: ``a(X, generator)`` mapping ``(N, 64)`` to ``(N, 64)`` (a new tensor).
    """
    if kind not in AUGMENTATIONS:
        raise ValueError(f"kind must be one of {AUGMENTATIONS}, got {kind!r}")

    def transform(X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = len(X)
        images = X.reshape(n, 8, 8)
        if kind == "shift":
            out = _translate(images, background, max_shift, generator)
        elif kind == "flip":
            out = images.flip(2)
        else:
            out = images + noise_std * torch.randn(images.shape, generator=generator).to(X.device)
        chosen = (torch.rand(n, generator=generator) < prob).to(X.device)
        return torch.where(chosen[:, None, None], out, images).reshape(n, 64)

    return transform


# --------------------------------------------------------------------------------------------
# The textbook bias-variance trade-off: polynomial regression
# --------------------------------------------------------------------------------------------


def polynomial_bias_variance(
    degrees: Sequence[int],
    num_sets: int = 300,
    num_points: int = 15,
    noise_std: float = 0.3,
    seed: int = 0,
    ridge: float = 0.0,
) -> dict[str, np.ndarray]:
    """Train and test error, bias and variance of least-squares polynomials, by simulation.

    The inputs are ``num_points`` equally spaced points ``x_i`` in ``[-1, 1]`` and the labels
    ``y_i = f(x_i) + e_i`` with ``f(x) = sin(pi x)`` and ``e_i ~ N(0, noise_std^2)``. For every
    degree ``d``, ``num_sets`` training sets ``D`` (the same ``x``, fresh noise) are fitted by a
    polynomial ``y_hat_D`` of degree ``d`` in the Legendre basis, ``y_hat_D(x) = sum_k c_k
    P_k(x)``, whose coefficients minimize ``sum_i (y_hat_D(x_i) - y_i)^2 + ridge * sum_k c_k^2``
    (least squares for ``ridge = 0``, ridge regression, an L2 penalty, otherwise). On a grid of
    201 points ``x`` covering ``[-1, 1]``, each training set also gets fresh test labels ``y' =
    f(x) + e'`` (``e' ~ N(0, noise_std^2)``, independent of everything else):

    * ``bias2``: ``mean_x (E_D[y_hat_D(x)] - f(x))^2``;
    * ``variance``: ``mean_x Var_D[y_hat_D(x)]``;
    * ``test_mse``: ``mean_{D, x} (y_hat_D(x) - y')^2``, the measured squared error on the fresh
      test labels, which estimates ``bias2 + variance + noise_std^2`` (up to its sampling noise);
    * ``train_mse``: ``E_D[1/n sum_i (y_hat_D(x_i) - y_i)^2]`` on the training points.

    Args:
        degrees: Polynomial degrees to fit (at most ``num_points - 1`` when ``ridge = 0``).
        num_sets: Number of training sets ``D``.
        num_points: Points per training set.
        noise_std: Standard deviation of the label noise.
        seed: Seed of the noise (the same training sets and test labels for every degree and
            every ``ridge``).
        ridge: Strength of the L2 penalty on the coefficients, ``>= 0``.

    Returns:
        dict[str, np.ndarray]: ``degree``, ``train_mse``, ``test_mse``, ``bias2``, ``variance``
        (one entry per degree) and ``noise`` (``noise_std^2``).
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, num_points)
    y = np.sin(np.pi * x) + noise_std * rng.normal(size=(num_sets, num_points))
    grid = np.linspace(-1, 1, 201)
    f_grid = np.sin(np.pi * grid)
    y_test = f_grid + noise_std * rng.normal(size=(num_sets, len(grid)))
    out: dict[str, list[float]] = {k: [] for k in ("train_mse", "test_mse", "bias2", "variance")}
    for d in degrees:
        V = np.polynomial.legendre.legvander(x, d)  # (points, d + 1)
        if ridge > 0:  # (V^T V + ridge I) c = V^T y, all sets at once
            coef = np.linalg.solve(V.T @ V + ridge * np.eye(d + 1), V.T @ y.T).T
        else:
            coef = np.linalg.lstsq(V, y.T, rcond=None)[0].T  # (sets, d + 1)
        pred = coef @ np.polynomial.legendre.legvander(grid, d).T  # (sets, grid)
        out["train_mse"].append(float(((coef @ V.T - y) ** 2).mean()))
        out["bias2"].append(float(((pred.mean(axis=0) - f_grid) ** 2).mean()))
        out["variance"].append(float(pred.var(axis=0).mean()))
        out["test_mse"].append(float(((pred - y_test) ** 2).mean()))
    result = {k: np.array(v) for k, v in out.items()}
    result["degree"] = np.array(degrees)
    result["noise"] = np.array(noise_std**2)
    return result


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def draw_overfitting(curves: Sequence[dict[str, np.ndarray]], stop_epoch: int | None = None):
    """Loss and error on the training and validation sets against the epoch, for several seeds.

    Thin lines are single seeds, thick lines their mean; ``stop_epoch`` (if given) is marked.

    Args:
        curves: Outputs of :func:`train` (same ``epoch`` grid).
        stop_epoch: An epoch to mark with a vertical line (early stopping).

    Returns:
        plt.Figure: The figure.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    epochs = curves[0]["epoch"]
    for ax, what in zip(axes, ("loss", "err"), strict=True):
        for split, color in (("train", "tab:blue"), ("val", "tab:orange")):
            runs = np.array([c[f"{split}_{what}"] for c in curves])
            for run in runs:
                ax.plot(epochs, run, color=color, lw=0.6, alpha=0.5)
            label = {"train": "training", "val": "validation"}[split]
            ax.plot(epochs, runs.mean(axis=0), color=color, lw=2.2, label=label)
        if stop_epoch is not None:
            ax.axvline(stop_epoch, color="k", ls=":", lw=1.2, label=f"epoch {stop_epoch}")
        ylabel = "cross-entropy" if what == "loss" else "error rate"
        ax.set(xlabel="epoch", ylabel=ylabel, yscale="log" if what == "loss" else "linear")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[1].set_ylim(0, 0.2)
    fig.tight_layout()
    return fig


def draw_capacity(
    widths: Sequence[int], train_err: np.ndarray, val_err: np.ndarray, val_loss: np.ndarray
):
    """Training and validation error (and validation loss) against the hidden width.

    Args:
        widths: Hidden widths (log-scaled axis).
        train_err: Mean training error per width.
        val_err: Mean validation error per width.
        val_loss: Mean validation cross-entropy per width (right axis).

    Returns:
        plt.Figure: The figure.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.semilogx(widths, train_err, "o-", color="tab:blue", label="training error")
    ax.semilogx(widths, val_err, "s-", color="tab:orange", label="validation error")
    ax.set(xlabel="hidden units (capacity)", ylabel="error rate", ylim=(-0.02, None))
    ax.set_xticks(list(widths), [str(w) for w in widths])
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.semilogx(widths, val_loss, "^--", color="tab:red", label="validation loss (right)")
    ax2.set_ylabel("validation cross-entropy", color="tab:red")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center")
    fig.tight_layout()
    return fig


def draw_bias_variance(result: dict[str, np.ndarray]):
    """The measured decomposition of :func:`polynomial_bias_variance` against the degree.

    Args:
        result: Output of :func:`polynomial_bias_variance`.

    Returns:
        plt.Figure: The figure.
    """
    d = result["degree"]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.semilogy(d, result["train_mse"], "o-", color="tab:blue", label="training error")
    ax.semilogy(d, result["test_mse"], "s-", color="tab:orange", label="test error")
    ax.semilogy(d, result["bias2"], "--", color="tab:green", label="bias$^2$")
    ax.semilogy(d, result["variance"], "--", color="tab:purple", label="variance")
    ax.axhline(float(result["noise"]), color="0.5", ls=":", label=r"noise $\sigma^2$")
    ax.set(xlabel="polynomial degree (capacity)", ylabel="mean squared error", ylim=(1e-4, None))
    ax.grid(alpha=0.3, which="both")
    ax.legend(ncol=2)
    fig.tight_layout()
    return fig


def draw_augmentations(
    X: torch.Tensor, transforms: dict[str, Callable], seed: int = 0, num_images: int = 6
):
    """A few images (rows: transformations, the first row untransformed).

    Args:
        X: Standardized images ``(N, 64)``; the first ``num_images`` are shown.
        transforms: Name -> ``a(X, generator)`` (each applied with a generator seeded ``seed``).
        seed: Seed of the generators.
        num_images: Number of columns.

    Returns:
        plt.Figure: The figure.
    """
    rows = {"original": X[:num_images].cpu()}
    for name, transform in transforms.items():
        gen = torch.Generator().manual_seed(seed)
        rows[name] = transform(X[:num_images], gen).cpu()
    fig, axes = plt.subplots(len(rows), num_images, figsize=(1.3 * num_images, 1.35 * len(rows)))
    for r, (name, images) in enumerate(rows.items()):
        for c in range(num_images):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(8, 8).numpy(), cmap="gray_r", vmin=-1, vmax=3)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# The dropout explorer
# --------------------------------------------------------------------------------------------

#: Conventions of the dropout explorer: what the layer does in training and at test time.
DROPOUT_SCALINGS = ("inverted", "scale at test", "no scaling (bug)")


def dropout_layer_outputs(
    p: float = 0.5,
    scaling: str = "inverted",
    num_units: int = 12,
    num_masks: int = 4000,
    seed: int = 0,
) -> dict[str, np.ndarray | float]:
    """One output ``y = w^T h~`` of a small dropout layer, over many masks and at test time.

    The layer has ``num_units`` fixed activations ``h >= 0`` (a ReLU layer's output for one
    input) and weights ``w`` (both drawn with ``seed``). In training, ``h~ = s_train r * h``
    with ``r_i ~ Bernoulli(1 - p)``; at test time ``h~ = s_test h``:

    =====================  ===================  ==============
    ``scaling``            ``s_train``          ``s_test``
    =====================  ===================  ==============
    ``"inverted"``         ``1 / (1 - p)``      ``1``
    ``"scale at test"``    ``1``                ``1 - p``
    ``"no scaling (bug)"`` ``1``                ``1``
    =====================  ===================  ==============

    The first two give ``E[y_train] = y_test`` (``w^T h`` for inverted dropout, ``(1 - p) w^T h``
    when scaling at test); the third makes the test output ``1 / (1 - p)`` times the training
    mean.

    Args:
        p: Drop probability, ``0 <= p < 1``.
        scaling: One of :data:`DROPOUT_SCALINGS`.
        num_units: Units of the layer.
        num_masks: Masks drawn for the training distribution.
        seed: Seed of ``h``, ``w`` and the masks.

    Returns:
        dict: ``h`` and ``w`` ``(num_units,)``, ``masks`` ``(num_masks, num_units)`` (bool,
        True = kept), ``y_train`` ``(num_masks,)``, ``y_test`` and ``expected_train`` (the
        exact mean ``s_train (1 - p) w^T h``).
    """
    if scaling not in DROPOUT_SCALINGS:
        raise ValueError(f"scaling must be one of {DROPOUT_SCALINGS}, got {scaling!r}")
    rng = np.random.default_rng(seed)
    h = np.maximum(rng.normal(0.5, 1.0, size=num_units), 0.0)
    w = rng.normal(size=num_units)
    masks = rng.random((num_masks, num_units)) >= p
    s_train = 1.0 / (1.0 - p) if scaling == "inverted" else 1.0
    s_test = 1.0 - p if scaling == "scale at test" else 1.0
    return {
        "h": h,
        "w": w,
        "masks": masks,
        "y_train": (masks * h * s_train) @ w,
        "y_test": float(s_test * h @ w),
        "expected_train": float(s_train * (1.0 - p) * h @ w),
    }


def draw_dropout_explorer(p: float = 0.5, mask: int = 0, scaling: str = "inverted"):
    """Dropout masks on a small layer, and the layer's output in training and at test time.

    Left: the activations ``h`` (outlines) and ``h~`` under mask number ``mask`` (bars; dropped
    units marked with a cross). Right: the histogram of one output ``y = w^T h~`` over 4000 masks
    (training mode), its mean, and the deterministic test-time output (see
    :func:`dropout_layer_outputs`).

    Args:
        p: Drop probability.
        mask: Which of the drawn masks to show on the left.
        scaling: One of :data:`DROPOUT_SCALINGS`.

    Returns:
        plt.Figure: The figure.
    """
    out = dropout_layer_outputs(p, scaling)
    h, m = out["h"], out["masks"][mask]
    s_train = 1.0 / (1.0 - p) if scaling == "inverted" else 1.0
    units = np.arange(len(h))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
    ax1.bar(units, h, fill=False, edgecolor="0.4", label="$h$ (no dropout)")
    ax1.bar(units, s_train * m * h, color="tab:blue", alpha=0.7, label=r"$\tilde h$, this mask")
    ax1.plot(units[~m], np.zeros((~m).sum()), "x", color="tab:red", ms=10, mew=2, label="dropped")
    ax1.set(
        xlabel="unit",
        ylabel="activation",
        title=f"mask {mask}: {(~m).sum()} of {len(h)} units dropped (p = {p:.2f})",
    )
    ax1.legend(fontsize=8)
    y_train = out["y_train"]
    ax2.hist(y_train, bins=40, color="tab:blue", alpha=0.6, label="training: one mask per draw")
    ax2.axvline(out["y_test"], color="k", lw=3, label=f"test output {out['y_test']:.2f}")
    ax2.axvline(
        y_train.mean(),
        color="tab:orange",
        ls="--",
        lw=2,
        label=f"training mean {y_train.mean():.2f}",
    )
    ax2.set(xlabel=r"output $y = w^\top \tilde h$", ylabel="masks", title=f"scaling: {scaling}")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig
