"""Lecture 4: loss functions for classification on toy logits and on digits.

Everything here is computed with PyTorch (``torch.softmax``, ``torch.nn.functional`` losses and
autograd); the assignment ``a04_loss_functions`` asks for the same quantities written by hand.
Notation: logits ``z`` of shape ``(N, C)``, probabilities ``y_hat = softmax(z)``, integer labels
``y`` in ``0..C-1``, one-hot targets ``onehot(y)``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from wwit.digits import DigitsData, make_mlp, minibatches

#: The training objectives of :func:`digits_loss`, by name.
KINDS = ("integer regression", "one-hot regression", "MSE", "cross-entropy")


def split_validation(data: DigitsData, val_fraction: float = 0.25, seed: int = 0) -> DigitsData:
    """Split the *training* part of ``data`` into a fitting and a validation part.

    The test split is not touched, so learning rates chosen on the result never see it.

    Args:
        data: Train and test tensors from :func:`wwit.digits.load_digits_split`.
        val_fraction: Fraction of the training samples held out for validation.
        seed: Seed of the random permutation.

    Returns:
        DigitsData: ``X_train``/``y_train`` hold the fitting part, ``X_test``/``y_test`` the
        validation part (same devices and dtypes as ``data``).
    """
    n = len(data.y_train)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    perm = perm.to(data.y_train.device)
    n_val = int(round(val_fraction * n))
    val, fit = perm[:n_val], perm[n_val:]
    return DigitsData(data.X_train[fit], data.y_train[fit], data.X_train[val], data.y_train[val])


def digits_loss(kind: str, out: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0):
    """The training loss of a network output ``out`` for integer labels ``y``.

    * ``"integer regression"``: one output per sample, ``1/N sum_n (out_n - y_n)^2``.
    * ``"one-hot regression"``: ``C`` raw outputs,
      ``1/(N C) sum_{n,i} (out_{n,i} - onehot(y_n)_i)^2``.
    * ``"MSE"``: ``1/(N C) sum_{n,i} (softmax(out_n)_i - onehot(y_n)_i)^2``.
    * ``"cross-entropy"``: ``-1/N sum_n sum_i q_{n,i} log softmax(out_n)_i`` with the (smoothed)
      target ``q_n = (1 - smoothing) onehot(y_n) + smoothing / C`` (``torch``'s
      ``label_smoothing``).

    Args:
        kind: One of :data:`KINDS`.
        out: Network output, shape ``(N, 1)`` for integer regression and ``(N, C)`` otherwise.
        y: ``int64`` labels, shape ``(N,)``.
        smoothing: Label smoothing ``epsilon`` (cross-entropy only).

    Returns:
        torch.Tensor: The scalar loss.
    """
    if kind == "integer regression":
        return F.mse_loss(out[:, 0], y.to(out.dtype))
    if kind == "cross-entropy":
        return F.cross_entropy(out, y, label_smoothing=smoothing)
    target = F.one_hot(y, out.shape[1]).to(out.dtype)
    if kind == "one-hot regression":
        return F.mse_loss(out, target)
    if kind == "MSE":
        return F.mse_loss(torch.softmax(out, dim=1), target)
    raise ValueError(f"unknown loss {kind!r}; expected one of {KINDS}")


@torch.no_grad()
def predict(kind: str, model: nn.Module, X: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Predicted classes: the rounded output for integer regression, else the ``argmax``.

    Integer regression predicts ``clamp(round(out), 0, C - 1)``.

    Args:
        kind: One of :data:`KINDS`.
        model: The network.
        X: Features, shape ``(N, 64)``.
        num_classes: ``C``.

    Returns:
        torch.Tensor: ``int64`` classes, shape ``(N,)``.
    """
    out = model(X)
    if kind == "integer regression":
        return out[:, 0].round().clamp(0, num_classes - 1).long()
    return out.argmax(dim=1)


def accuracy(kind: str, model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of samples whose :func:`predict` equals ``y``."""
    return (predict(kind, model, X) == y).float().mean().item()


def scale_output_layer(model: nn.Sequential, factor: float) -> nn.Sequential:
    """Multiply the last layer's weight and bias by ``factor`` (in place): logits ``z -> factor z``.

    A large factor gives a "bad start": confident (saturated) softmax outputs ``softmax(factor z)``
    that are wrong for most samples (an untrained network's ``argmax`` is mostly wrong).

    Args:
        model: A network whose last module is ``nn.Linear`` (e.g. :func:`wwit.digits.make_mlp`).
        factor: The scale.

    Returns:
        nn.Sequential: ``model`` itself.
    """
    with torch.no_grad():
        model[-1].weight.mul_(factor)
        model[-1].bias.mul_(factor)
    return model


def fit(
    model: nn.Module,
    data: DigitsData,
    kind: str,
    optimizer: str,
    lr: float,
    num_epochs: int,
    batch_size: int = 128,
    seed: int = 0,
    smoothing: float = 0.0,
) -> float:
    """Train ``model`` on ``data``'s training split with :func:`digits_loss` and mini-batches.

    Each step applies ``w <- w - lr * g_B`` (``"SGD"``, no momentum) or Adam's update
    (``"Adam"``, PyTorch's defaults) with the gradient ``g_B`` of the mini-batch loss.

    Args:
        model: The network (e.g. :func:`wwit.digits.make_mlp`); trained in place.
        data: Only ``X_train``/``y_train`` are used.
        kind: The loss, one of :data:`KINDS`.
        optimizer: ``"SGD"`` or ``"Adam"``.
        lr: Learning rate.
        num_epochs: Passes over the training split.
        batch_size: Mini-batch size.
        seed: Seed of the shuffling.
        smoothing: Label smoothing (cross-entropy only).

    Returns:
        float: The final loss on the whole training split (``nan`` if training diverged).
    """
    opt_cls = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam}[optimizer]
    opt = opt_cls(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(num_epochs):
        for idx in minibatches(len(data.y_train), batch_size, gen):
            idx = idx.to(data.X_train.device)
            opt.zero_grad()
            digits_loss(kind, model(data.X_train[idx]), data.y_train[idx], smoothing).backward()
            opt.step()
    with torch.no_grad():
        loss = digits_loss(kind, model(data.X_train), data.y_train, smoothing).item()
    return loss if np.isfinite(loss) else float("nan")


def lr_sweep(
    tune: DigitsData,
    test: DigitsData,
    kind: str,
    optimizer: str,
    lrs: tuple[float, ...],
    seeds: tuple[int, ...],
    num_epochs: int,
    logit_scale: float = 1.0,
    num_classes: int = 10,
) -> dict[str, np.ndarray]:
    """Train one network per ``(lr, seed)`` on the fitting split; record validation/test accuracy.

    Every network is :func:`wwit.digits.make_mlp` with ``seed`` (on ``tune``'s device), its output
    layer scaled by ``logit_scale`` (:func:`scale_output_layer`), trained by :func:`fit`.

    Args:
        tune: ``X_train``/``y_train`` are fitted, ``X_test``/``y_test`` are the validation split
            (from :func:`split_validation`).
        test: Only ``X_test``/``y_test`` are used (the held-out test split).
        kind: The loss, one of :data:`KINDS`.
        optimizer: ``"SGD"`` or ``"Adam"``.
        lrs: Learning rates to try.
        seeds: Seeds of initialization and shuffling.
        num_epochs: Passes over the fitting split.
        logit_scale: Factor applied to the initial output layer.
        num_classes: Outputs of the network (1 for integer regression).

    Returns:
        dict[str, np.ndarray]: ``val_acc`` and ``test_acc``, each of shape
        ``(len(lrs), len(seeds))``.
    """
    val_acc = np.empty((len(lrs), len(seeds)))
    test_acc = np.empty((len(lrs), len(seeds)))
    for i, lr in enumerate(lrs):
        for j, seed in enumerate(seeds):
            model = make_mlp(seed=seed, num_classes=num_classes, device=tune.X_train.device)
            scale_output_layer(model, logit_scale)
            fit(model, tune, kind, optimizer, lr, num_epochs, seed=seed)
            val_acc[i, j] = accuracy(kind, model, tune.X_test, tune.y_test)
            test_acc[i, j] = accuracy(kind, model, test.X_test, test.y_test)
    return {"val_acc": val_acc, "test_acc": test_acc}


def three_class_losses(z: torch.Tensor, target: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and MSE of logits ``z`` of shape ``(..., 3)`` for one target class.

    ``CE = -log softmax(z)_target`` and ``MSE = 1/C sum_i (softmax(z)_i - onehot_i)^2``, ``C = 3``.

    Args:
        z: Logits, shape ``(..., C)``.
        target: The true class.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``(CE, MSE)``, each of shape ``(...)``.
    """
    onehot = F.one_hot(torch.tensor(target), z.shape[-1]).to(z.dtype)
    ce = -torch.log_softmax(z, dim=-1)[..., target]
    mse = ((torch.softmax(z, dim=-1) - onehot) ** 2).mean(dim=-1)
    return ce, mse


def loss_grid(
    z2: float, extent: float = 10.0, num: int = 121, target: int = 0
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Both losses over a grid of ``(z0, z1)`` in ``[-extent, extent]^2`` with ``z2`` held fixed.

    Args:
        z2: The fixed logit of class 2.
        extent: Half-width of the grid.
        num: Grid points per axis.
        target: The true class.

    Returns:
        tuple: ``Z0``, ``Z1`` (meshgrids) and ``{"cross-entropy": CE, "MSE": MSE}`` on the grid.
    """
    axis = torch.linspace(-extent, extent, num, dtype=torch.float64)
    Z0, Z1 = torch.meshgrid(axis, axis, indexing="xy")
    z = torch.stack([Z0, Z1, torch.full_like(Z0, z2)], dim=-1)
    ce, mse = three_class_losses(z, target)
    return Z0.numpy(), Z1.numpy(), {"cross-entropy": ce.numpy(), "MSE": mse.numpy()}


def descend_logits(
    kind: str, start: tuple[float, float], z2: float, lr: float, num_steps: int, target: int = 0
) -> dict[str, np.ndarray]:
    """Gradient descent ``(z0, z1) <- (z0, z1) - lr * g`` on one loss of :func:`three_class_losses`.

    Args:
        kind: ``"cross-entropy"`` or ``"MSE"``.
        start: Starting logits ``(z0, z1)``.
        z2: The fixed logit of class 2.
        lr: Learning rate.
        num_steps: Number of steps.
        target: The true class.

    Returns:
        dict[str, np.ndarray]: ``z`` (shape ``(num_steps + 1, 2)``), ``loss`` and ``grad_norm``
        ``||g||`` (shape ``(num_steps + 1,)``) at every visited point.
    """
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    zs, losses, norms = [], [], []
    for step in range(num_steps + 1):
        z = torch.cat([w, torch.tensor([z2], dtype=torch.float64)])
        loss = three_class_losses(z, target)[0 if kind == "cross-entropy" else 1]
        (g,) = torch.autograd.grad(loss, w)
        zs.append(w.detach().numpy().copy())
        losses.append(loss.item())
        norms.append(g.norm().item())
        if step < num_steps:
            with torch.no_grad():
                w -= lr * g
    return {"z": np.array(zs), "loss": np.array(losses), "grad_norm": np.array(norms)}


def plot_loss_surface(ax: plt.Axes, Z0, Z1, L, title: str, levels: int = 25) -> None:
    """Filled contours of a loss over ``(z0, z1)``, with the line ``z0 = z1`` marked.

    Args:
        ax: Axes to draw into.
        Z0: Meshgrid of ``z0`` (the true class's logit).
        Z1: Meshgrid of ``z1``.
        L: Loss on the grid.
        title: Axes title.
        levels: Number of contour levels.
    """
    cs = ax.contourf(Z0, Z1, L, levels=levels, cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, label="loss")
    ax.plot(
        [Z0.min(), Z0.max()], [Z0.min(), Z0.max()], color="w", ls=":", lw=1, label=r"$z_0 = z_1$"
    )
    ax.set(xlabel=r"$z_0$ (true class)", ylabel=r"$z_1$", title=title, aspect="equal")


def draw_logit_explorer(
    z0: float = 1.0, z1: float = 3.0, z2: float = -1.0, target: int = 0
) -> plt.Figure:
    """Softmax, both losses and their gradients ``dL/dz`` for three logits and one target.

    Left: ``y_hat = softmax(z)`` against the one-hot target. Middle: the cross-entropy
    ``-log y_hat_target`` and the MSE ``1/C sum_i (y_hat_i - onehot_i)^2``. Right: the gradients
    ``dL/dz_i`` of both losses, computed by autograd.

    Args:
        z0: Logit of class 0.
        z1: Logit of class 1.
        z2: Logit of class 2.
        target: The true class.

    Returns:
        plt.Figure: The figure (call ``plt.show()`` to display it).
    """
    z = torch.tensor([z0, z1, z2], dtype=torch.float64, requires_grad=True)
    ce, mse = three_class_losses(z, target)
    (g_ce,) = torch.autograd.grad(ce, z)
    (g_mse,) = torch.autograd.grad(mse, z)
    y_hat = torch.softmax(z, dim=0).detach().numpy()
    classes = np.arange(3)
    onehot = (classes == target).astype(float)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].bar(classes, y_hat, color="tab:blue", label=r"$\hat y = \mathrm{softmax}(z)$")
    axes[0].bar(classes, onehot, fill=False, edgecolor="k", ls="--", label=f"one-hot, y = {target}")
    axes[0].set(xticks=classes, ylim=(0, 1.05), xlabel="class", title="probabilities")
    axes[0].legend(fontsize=8, loc="upper right")

    names = ("cross-entropy", "MSE")
    values = (ce.item(), mse.item())
    axes[1].bar(names, values, color=["tab:red", "tab:green"])
    for i, v in enumerate(values):
        axes[1].text(i, v, f"{v:.3g}", ha="center", va="bottom")
    axes[1].set(title="loss", ylim=(0, max(1.0, 1.15 * max(values))))

    width = 0.38
    axes[2].bar(
        classes - width / 2,
        g_ce.numpy(),
        width,
        color="tab:red",
        label=rf"cross-entropy, $\|g\|$ = {g_ce.norm():.3g}",
    )
    axes[2].bar(
        classes + width / 2,
        g_mse.numpy(),
        width,
        color="tab:green",
        label=rf"MSE, $\|g\|$ = {g_mse.norm():.3g}",
    )
    axes[2].axhline(0, color="k", lw=0.8)
    axes[2].set(
        xticks=classes,
        xlabel="class",
        ylim=(-1.05, 1.05),
        title=r"gradient $\partial L / \partial z_i$",
    )
    axes[2].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"z = ({z0:g}, {z1:g}, {z2:g})")
    fig.tight_layout()
    return fig
