"""Lecture 5: feature normalization and normalization layers (BatchNorm, LayerNorm).

The normalization layers themselves are PyTorch's ``nn.BatchNorm1d`` and ``nn.LayerNorm``; this
module holds the data splits, the networks, the training loop's companions and the figures that
several cells of the lecture share.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from wwit.device import get_device

#: The normalization choices of :func:`make_net` and of the depth explorer.
NORMS = ("none", "batchnorm", "layernorm")
NORM_COLORS = {"none": "tab:red", "batchnorm": "tab:blue", "layernorm": "tab:green"}


# --------------------------------------------------------------------------------------------
# Least squares on two features
# --------------------------------------------------------------------------------------------


def two_scale_regression(
    num_samples: int = 200, scales: tuple[float, float] = (1.0, 100.0), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Features of very different scales and a linear target.

    ``x_n = (s_1 u_{n1}, s_2 u_{n2})`` with ``u_n ~ N(0, I)``, and ``y_n = x_n^T w_true + 0.5
    e_n`` with ``e_n ~ N(0, 1)`` and ``w_true,i = 2 s_1 / s_i``, so that both features contribute
    equally to ``y``. ``y`` is centred; features and target have mean (close to) zero, so the
    model ``y_hat = x^T w`` needs no bias.

    Args:
        num_samples: ``N``.
        scales: ``(s_1, s_2)``.
        seed: Seed of the generator.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``X`` of shape ``(N, 2)`` and ``y`` of shape ``(N,)``,
        ``float64``.
    """
    rng = np.random.default_rng(seed)
    s = np.asarray(scales, dtype=np.float64)
    X = rng.normal(size=(num_samples, 2)) * s
    w_true = 2.0 * s[0] / s
    y = X @ w_true + 0.5 * rng.normal(size=num_samples)
    return X, y - y.mean()


def least_squares(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hessian, linear term and minimizer of ``L(w) = 1/(2N) ||X w - y||^2``.

    ``L`` is quadratic: ``grad L = H w - b`` with ``H = X^T X / N`` and ``b = X^T y / N``, and its
    minimizer solves ``H w* = b``.

    Args:
        X: Features, shape ``(N, d)``.
        y: Targets, shape ``(N,)``.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: ``H`` ``(d, d)``, ``b`` ``(d,)``, ``w*``
        ``(d,)``.
    """
    H = X.T @ X / len(X)
    b = X.T @ y / len(X)
    return H, b, np.linalg.solve(H, b)


def gd_steps_to_converge(
    H: np.ndarray,
    b: np.ndarray,
    lr: float,
    w0: np.ndarray,
    rtol: float = 1e-6,
    max_steps: int = 1_000_000,
    keep: int = 60,
) -> tuple[int, np.ndarray]:
    """Gradient descent ``w <- w - lr (H w - b)`` until the loss gap has shrunk by ``rtol``.

    The loss gap of the quadratic is ``L(w) - L(w*) = 1/2 (w - w*)^T H (w - w*)``; the run stops
    at the first step ``k`` with ``gap_k <= rtol gap_0``.

    Args:
        H: Hessian ``(d, d)``, symmetric positive definite.
        b: Linear term ``(d,)``.
        lr: Learning rate (stable for ``lr < 2 / lambda_max``).
        w0: Start ``(d,)``.
        rtol: Relative reduction of the loss gap that counts as converged.
        max_steps: Give up (and return ``max_steps``) after this many steps.
        keep: How many of the first iterates to return for plotting.

    Returns:
        tuple[int, np.ndarray]: The number of steps ``k`` and the first ``keep + 1`` iterates
        ``(keep + 1, d)``.
    """
    w_star = np.linalg.solve(H, b)

    def gap(w: np.ndarray) -> float:
        e = w - w_star
        return 0.5 * e @ H @ e

    w = np.array(w0, dtype=np.float64)
    target = rtol * gap(w)
    path = [w.copy()]
    for k in range(1, max_steps + 1):
        w = w - lr * (H @ w - b)
        if k <= keep:
            path.append(w.copy())
        if gap(w) <= target:
            return k, np.array(path)
    return max_steps, np.array(path)


def plot_lsq_contours(
    ax: plt.Axes, X: np.ndarray, y: np.ndarray, path: np.ndarray, half_width: float, title: str
) -> None:
    """Contours of ``L(w) = 1/(2N) ||X w - y||^2`` around ``w*`` and a gradient-descent path.

    Both axes span ``w* +- half_width`` with equal aspect, so an elongated valley looks elongated.

    Args:
        ax: Axes to draw into.
        X: Features ``(N, 2)``.
        y: Targets ``(N,)``.
        path: Iterates ``(K, 2)``.
        half_width: Half the window in both ``w_1`` and ``w_2``.
        title: Axes title.
    """
    H, _, w_star = least_squares(X, y)
    t = np.linspace(-half_width, half_width, 201)
    E1, E2 = np.meshgrid(t, t)
    gap = 0.5 * (H[0, 0] * E1**2 + 2 * H[0, 1] * E1 * E2 + H[1, 1] * E2**2)
    levels = np.geomspace(gap[gap > 0].min() * 10 + 1e-12, gap.max(), 12)
    ax.contour(E1 + w_star[0], E2 + w_star[1], gap, levels=levels, cmap="viridis_r")
    ax.plot(path[:, 0], path[:, 1], ".-", color="tab:red", lw=1, ms=3, label="gradient descent")
    ax.plot(*w_star, "*", color="k", ms=12, label=r"$w^*$")
    ax.set(
        xlim=(w_star[0] - half_width, w_star[0] + half_width),
        ylim=(w_star[1] - half_width, w_star[1] + half_width),
        xlabel=r"$w_1$",
        ylabel=r"$w_2$",
        aspect="equal",
        title=title,
    )
    ax.legend(loc="upper right", fontsize=8)


# --------------------------------------------------------------------------------------------
# Digits: raw pixels, splits, networks
# --------------------------------------------------------------------------------------------


def digits_raw_splits(
    val_size: float = 0.2, test_size: float = 0.25, seed: int = 0
) -> dict[str, np.ndarray]:
    """The digits images as raw pixels ``0..16``, split into training, validation and test sets.

    The test split is the one of :func:`wwit.digits.load_digits_split` (same ``test_size`` and
    ``seed``, stratified); the rest is split again, stratified, into training and validation.
    Nothing is standardized here.

    Args:
        val_size: Fraction of the non-test samples held out for validation.
        test_size: Fraction of all 1797 samples held out for testing.
        seed: Seed of both splits.

    Returns:
        dict[str, np.ndarray]: ``X_train, y_train, X_val, y_val, X_test, y_test``; ``X`` as
        ``float64`` of shape ``(N, 64)``, ``y`` as ``int64``.
    """
    X, y = load_digits(return_X_y=True)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size, random_state=seed, stratify=y_rest
    )
    return {
        "X_train": X_train.astype(np.float64),
        "y_train": y_train.astype(np.int64),
        "X_val": X_val.astype(np.float64),
        "y_val": y_val.astype(np.int64),
        "X_test": X_test.astype(np.float64),
        "y_test": y_test.astype(np.int64),
    }


def make_net(
    norm: str = "none",
    depth: int = 3,
    width: int = 64,
    seed: int = 0,
    d_in: int = 64,
    num_classes: int = 10,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """An MLP with ``depth`` hidden layers ``a = relu(N(W x + b))``, ``N`` a normalization.

    The normalization acts on the pre-activation ``z = W x + b`` (before the ReLU, as in Ioffe and
    Szegedy, 2015): ``"none"`` (identity), ``"batchnorm"`` (``nn.BatchNorm1d(width)``: each unit
    standardized over the batch, ``gamma x_hat + beta``) or ``"layernorm"``
    (``nn.LayerNorm(width)``: each example standardized over its ``width`` units, ``gamma x_hat +
    beta``). The last layer maps to ``num_classes`` logits without normalization. PyTorch's
    default initialization.

    Args:
        norm: One of :data:`NORMS`.
        depth: Number of hidden layers.
        width: Units per hidden layer.
        seed: Seed of the initialization.
        d_in: Input features.
        num_classes: Output logits.
        device: Where the parameters live; ``None`` means :func:`wwit.device.get_device`.

    Returns:
        nn.Sequential: The network.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    fan_in = d_in
    for _ in range(depth):
        layers.append(nn.Linear(fan_in, width))
        if norm == "batchnorm":
            layers.append(nn.BatchNorm1d(width))
        elif norm == "layernorm":
            layers.append(nn.LayerNorm(width))
        layers.append(nn.ReLU())
        fan_in = width
    layers.append(nn.Linear(fan_in, num_classes))
    return nn.Sequential(*layers).to(get_device() if device is None else torch.device(device))


def fit(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    num_epochs: int,
    batch_size: int = 64,
    X_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Mini-batch SGD ``w <- w - lr grad L_B(w)`` on the cross-entropy.

    Every epoch shuffles the ``N`` training examples (seeded) and makes ``floor(N / batch_size)``
    updates: an incomplete last batch is dropped, as ``DataLoader(drop_last=True)`` does, because
    BatchNorm cannot normalize a batch of one example. The model is in ``train()`` mode while it
    is updated and in ``eval()`` mode when it is scored on the validation set after every epoch.

    Args:
        model: The network.
        X: Training inputs ``(N, 64)``.
        y: Training labels ``(N,)``.
        lr: Learning rate.
        num_epochs: Passes over the training set.
        batch_size: Mini-batch size ``B``.
        X_val: Validation inputs, or ``None`` to skip scoring.
        y_val: Validation labels.
        seed: Seed of the shuffling.

    Returns:
        dict[str, np.ndarray]: Per epoch ``train_loss`` (mean mini-batch loss; NaN once it is not
        finite) and ``val_acc`` (empty without a validation set).
    """
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    n = len(y) - len(y) % batch_size
    curves: dict[str, list[float]] = {"train_loss": [], "val_acc": []}
    for _ in range(num_epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(y), generator=gen)[:n].split(batch_size):
            idx = idx.to(X.device)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item()
        steps = n // batch_size
        curves["train_loss"].append(total / steps if np.isfinite(total) else float("nan"))
        if X_val is not None and y_val is not None:
            model.eval()
            with torch.no_grad():
                acc = (model(X_val).argmax(dim=1) == y_val).float().mean().item()
            curves["val_acc"].append(acc)
    model.eval()
    return {k: np.array(v) for k, v in curves.items()}


@torch.no_grad()
def accuracy_in_batches(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, batches: Sequence[torch.Tensor]
) -> float:
    """Accuracy of ``model`` when it sees ``X`` one batch of ``batches`` at a time.

    The model is called in whatever mode it is in (``train()`` or ``eval()``): in training mode a
    BatchNorm layer normalizes each batch with that batch's own statistics.

    Args:
        model: Maps ``(B, 64)`` inputs to ``(B, 10)`` logits.
        X: Inputs ``(N, 64)``.
        y: Labels ``(N,)``.
        batches: Index tensors that together cover the examples to score.

    Returns:
        float: Fraction of correctly classified examples over all batches.
    """
    correct, total = 0, 0
    for idx in batches:
        idx = idx.to(X.device)
        correct += (model(X[idx]).argmax(dim=1) == y[idx]).sum().item()
        total += len(idx)
    return correct / total


# --------------------------------------------------------------------------------------------
# Smoothness along the update direction (Santurkar et al., 2018)
# --------------------------------------------------------------------------------------------


def _flat_grad(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, torch.Tensor]:
    params = [p for p in model.parameters() if p.requires_grad]
    loss = nn.functional.cross_entropy(model(X), y)
    grads = torch.autograd.grad(loss, params)
    return loss.item(), torch.cat([g.reshape(-1) for g in grads])


def smoothness_along_step(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    multiples: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
) -> tuple[float, float]:
    """How much the loss and the gradient change along the gradient step from ``w``.

    With ``g = grad L_B(w)`` on the batch ``(X, y)``, the points ``w_r = w - r lr g``
    for ``r`` in ``multiples`` are visited (on the same batch, in the model's current mode) and

    * the loss variation ``max_r L_B(w_r) - min_r L_B(w_r)`` (including ``r = 0``), and
    * the effective smoothness ``max_r ||grad L_B(w_r) - g|| / ||w_r - w||``, the
      largest change of the gradient per unit of distance moved (a local Lipschitz constant of
      the gradient, the "beta-smoothness" of Santurkar et al., 2018)

    are returned. The parameters are restored afterwards; running statistics of BatchNorm
    layers may be updated by the extra forward passes in training mode, so they are restored too.

    Args:
        model: The network.
        X: Batch inputs.
        y: Batch labels.
        lr: Step size of the update ``w - lr g``.
        multiples: The ``r`` at which to probe, in units of the update.

    Returns:
        tuple[float, float]: ``(loss variation, effective smoothness)``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    buffers = [b.detach().clone() for b in model.buffers()]
    loss0, g = _flat_grad(model, X, y)
    losses, ratios = [loss0], []
    for t in multiples:
        with torch.no_grad():
            offset = 0
            for p, p0 in zip(params, saved, strict=True):
                n = p.numel()
                p.copy_(p0 - t * lr * g[offset : offset + n].view_as(p))
                offset += n
        loss_t, g_t = _flat_grad(model, X, y)
        losses.append(loss_t)
        moved = t * lr * torch.linalg.vector_norm(g)
        ratios.append((torch.linalg.vector_norm(g_t - g) / moved).item())
    with torch.no_grad():
        for p, p0 in zip(params, saved, strict=True):
            p.copy_(p0)
        for b, b0 in zip(model.buffers(), buffers, strict=True):
            b.copy_(b0)
    return max(losses) - min(losses), max(ratios)


# --------------------------------------------------------------------------------------------
# The depth explorer: a feature's distribution through the layers
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def preactivations_through_depth(
    X: torch.Tensor, norm: str = "none", depth: int = 10, weight_scale: float = 1.0, seed: int = 0
) -> list[torch.Tensor]:
    """Pre-activations of every layer of a deep ReLU network at initialization.

    Layer ``l`` computes ``z^(l) = W^(l) a^(l-1)`` with ``W_ij ~ N(0, weight_scale^2 * 2 /
    fan_in)`` (``weight_scale = 1`` is He initialization, which keeps the scale of ``z`` constant
    through ReLU layers on average), then ``a^(l) = relu(N(z^(l)))`` with ``N`` the identity,
    BatchNorm over the batch (``gamma = 1, beta = 0``, training mode) or LayerNorm over the units.
    What is recorded is the *input of the ReLU*, ``N(z^(l))``.

    Args:
        X: Input batch ``(B, d)``.
        norm: One of :data:`NORMS`.
        depth: Number of layers ``L``.
        weight_scale: Multiplies the He standard deviation ``sqrt(2 / fan_in)``.
        seed: Seed of the weights.

    Returns:
        list[torch.Tensor]: ``L`` tensors ``(B, width)`` (``width = d``), one per layer.
    """
    gen = torch.Generator().manual_seed(seed)
    a = X.to(torch.float32).cpu()
    width = a.shape[1]
    out = []
    for _ in range(depth):
        W = torch.randn(width, width, generator=gen) * weight_scale * (2.0 / width) ** 0.5
        z = a @ W.T
        if norm == "batchnorm":
            z = nn.functional.batch_norm(z, None, None, training=True)
        elif norm == "layernorm":
            z = nn.functional.layer_norm(z, (width,))
        out.append(z)
        a = torch.relu(z)
    return out


#: Default state of the depth explorer (the static figure shows it).
DEPTH_DEFAULTS = {"layer": 10, "weight_scale": 0.7, "norm": "none"}


def draw_depth_explorer(
    layer: int = 10,
    weight_scale: float = 0.7,
    norm: str = "none",
    X: torch.Tensor | None = None,
    depth: int = 20,
    feature: int = 0,
) -> plt.Figure:
    """A feature's distribution through a deep ReLU network, with or without normalization.

    Left: histogram, over the examples of the batch, of feature ``feature`` of the ReLU input
    ``N(z^(l))`` at layer ``layer`` (see :func:`preactivations_through_depth`); the first layer is
    shown in grey for comparison. Right: the standard deviation of the ReLU input (over examples
    and units) at every layer, for all three choices of ``N``, on a log scale; the chosen layer is
    marked.

    Args:
        layer: Layer ``l`` shown on the left, ``1..depth``.
        weight_scale: Multiplies the He standard deviation of the weights.
        norm: One of :data:`NORMS`, the network of the left panel.
        X: Input batch ``(B, 64)``; ``None`` uses the first 512 training images of
            :func:`digits_raw_splits`, standardized with the training statistics (the lecture's
            ``X_train[:512]``).
        depth: Number of layers simulated.
        feature: Which unit to histogram.

    Returns:
        plt.Figure: The figure.
    """
    if X is None:
        X = _default_explorer_batch()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    stats = {n: preactivations_through_depth(X, n, depth, weight_scale) for n in NORMS}
    zs = stats[norm]
    first, chosen = zs[0][:, feature].numpy(), zs[layer - 1][:, feature].numpy()
    lo, hi = np.percentile(np.concatenate([first, chosen]), [0.5, 99.5])
    bins = np.linspace(min(lo, -1e-12), max(hi, 1e-12), 40)
    ax1.hist(first, bins=bins, color="0.6", alpha=0.6, label="layer 1")
    ax1.hist(chosen, bins=bins, color=NORM_COLORS[norm], alpha=0.7, label=f"layer {layer}")
    ax1.set(
        xlabel=f"ReLU input of unit {feature}",
        ylabel="examples",
        title=f"norm = {norm}, weight scale {weight_scale:g}: std {chosen.std():.3g} at layer "
        f"{layer}",
    )
    ax1.legend()
    layers = np.arange(1, depth + 1)
    for n in NORMS:
        stds = [z.std().item() for z in stats[n]]
        style = {"none": "o-", "batchnorm": "s-", "layernorm": "^--"}[n]
        ax2.semilogy(
            layers, stds, style, ms=4, color=NORM_COLORS[n], label=n, lw=2.5 if n == norm else 1.2
        )
    ax2.axvline(layer, color="k", ls=":", lw=1)
    ax2.set(xlabel="layer $l$", ylabel="std of the ReLU input", title="scale through depth")
    ax2.grid(alpha=0.3, which="both")
    ax2.legend()
    fig.tight_layout()
    return fig


_EXPLORER_BATCH: list[torch.Tensor] = []


def _default_explorer_batch() -> torch.Tensor:
    """The first 512 training images, standardized with the training split's statistics.

    The same inputs as the lecture's ``X_train[:512]``: :func:`digits_raw_splits` with its
    defaults, ``(x - mu) / sigma`` with the training split's mean and biased standard deviation,
    ``sigma = 0`` replaced by 1 (as scikit-learn's ``StandardScaler`` does).
    """
    if not _EXPLORER_BATCH:
        X = digits_raw_splits()["X_train"]
        sigma = X.std(axis=0)
        X_std = (X - X.mean(axis=0)) / np.where(sigma > 0, sigma, 1.0)
        _EXPLORER_BATCH.append(torch.as_tensor(X_std[:512], dtype=torch.float32))
    return _EXPLORER_BATCH[0]
