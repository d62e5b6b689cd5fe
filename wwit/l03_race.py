"""Lecture 3: toy error surfaces in two parameters and an optimizer race on them.

Every optimizer is the real ``torch.optim`` class acting on a two-element parameter
``theta = (w1, w2)`` in ``float64``; a run records the trajectory, the loss and the gradient.

The last part serves the measurements of lecture 3a: step lengths of an optimizer fed a given
gradient stream (AdaGrad in its summed and its mean form), a train/validation/test split of
*digits*, and a training loop that keeps the model at given training losses.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import colors
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from wwit.digits import minibatches
from wwit.surfaces import product_loss


@dataclass(frozen=True)
class Surface:
    """A loss ``L(w1, w2)`` with the window and starting point used to race on it.

    Attributes:
        name: Human-readable name.
        loss: ``loss(theta)`` for ``theta`` of shape ``(..., 2)`` (tensor or array) -> ``(...)``.
        start: Starting point ``theta_0``.
        minimum: A global minimizer marked in the plot, or None (e.g. a whole valley of minima).
        xlim: Plot range of ``w1``.
        ylim: Plot range of ``w2``.
    """

    name: str
    loss: Callable
    start: tuple[float, float]
    minimum: tuple[float, float] | None
    xlim: tuple[float, float]
    ylim: tuple[float, float]


#: Curvatures ``(lambda_1, lambda_2)`` of the ill-conditioned quadratic (condition number 100).
QUAD_CURVATURES = (0.1, 10.0)


def quadratic_loss(theta, curvatures=QUAD_CURVATURES):
    """``L(w1, w2) = (lambda_1 w1^2 + lambda_2 w2^2) / 2``: Hessian ``diag(lambda_1, lambda_2)``.

    Args:
        theta: Array or tensor of shape ``(..., 2)``.
        curvatures: ``(lambda_1, lambda_2)``.

    Returns:
        Array or tensor of shape ``(...)``.
    """
    return 0.5 * (curvatures[0] * theta[..., 0] ** 2 + curvatures[1] * theta[..., 1] ** 2)


def curved_valley_loss(theta):
    """A Rosenbrock-type banana valley ``L = (1 - w1)^2 / 2 + 5 (w2 - w1^2)^2``, minimum ``(1, 1)``.

    Args:
        theta: Array or tensor of shape ``(..., 2)``.

    Returns:
        Array or tensor of shape ``(...)``.
    """
    w1, w2 = theta[..., 0], theta[..., 1]
    return 0.5 * (1 - w1) ** 2 + 5.0 * (w2 - w1**2) ** 2


#: The surfaces of the race, by name.
SURFACES = {
    s.name: s
    for s in (
        Surface(
            "ill-conditioned quadratic",
            quadratic_loss,
            (-9.0, 0.9),
            (0.0, 0.0),
            (-10.0, 2.0),
            (-1.2, 1.2),
        ),
        Surface(
            "curved valley", curved_valley_loss, (-1.5, 2.0), (1.0, 1.0), (-2.0, 2.0), (-1.0, 3.0)
        ),
        Surface(
            "saddle plateau (lecture 1)", product_loss, (1e-3, 0.0), None, (-0.5, 2.0), (-0.5, 2.0)
        ),
    )
}

#: Optimizers of the race: name -> factory ``(params, lr) -> torch.optim.Optimizer``.
OPTIMIZERS = {
    "SGD": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "Momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "AdaGrad": lambda params, lr: torch.optim.Adagrad(params, lr=lr),
    "RMSProp": lambda params, lr: torch.optim.RMSprop(params, lr=lr, alpha=0.99),
    "Adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
    "RAdam": lambda params, lr: torch.optim.RAdam(params, lr=lr),
}

#: Fixed colour per optimizer, so figures stay comparable.
OPTIMIZER_COLORS = dict(
    zip(
        OPTIMIZERS,
        ["0.35", "tab:purple", "tab:green", "tab:orange", "tab:red", "tab:brown"],
        strict=True,
    )
)


def run_optimizer(
    loss: Callable,
    start,
    optimizer: str | Callable,
    lr: float,
    num_steps: int,
    scheduler: Callable | None = None,
    blowup: float = 1e6,
) -> dict[str, np.ndarray]:
    """Minimize a two-parameter loss with a ``torch.optim`` optimizer, recording everything.

    Args:
        loss: ``loss(theta)`` for a tensor ``theta`` of shape ``(2,)``.
        start: ``theta_0``.
        optimizer: A name in :data:`OPTIMIZERS`, or a factory ``(params, lr) -> optimizer``.
        lr: Learning rate.
        num_steps: Number of optimizer steps.
        scheduler: Optional factory ``optimizer -> lr_scheduler``, stepped after every step.
        blowup: Stop early once ``|theta|`` exceeds this (the run diverged).

    Returns:
        dict[str, np.ndarray]: ``theta`` (``(T+1, 2)``: the trajectory), ``loss`` and ``grad``
        (``(T+1,)`` and ``(T+1, 2)``: at every point of the trajectory) and ``lr`` (``(T,)``),
        where ``T <= num_steps`` is the number of steps taken.
    """
    factory = OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = factory([theta], lr)
    sched = scheduler(opt) if scheduler is not None else None
    thetas, losses, grads, lrs = [], [], [], []
    for t in range(num_steps + 1):
        opt.zero_grad()
        value = loss(theta)
        value.backward()
        thetas.append(theta.detach().clone())
        losses.append(value.item())
        grads.append(theta.grad.detach().clone())
        if t == num_steps or not theta.detach().abs().max() < blowup:
            break
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return {
        "theta": torch.stack(thetas).numpy(),
        "loss": np.array(losses),
        "grad": torch.stack(grads).numpy(),
        "lr": np.array(lrs),
    }


def plot_surface(ax: plt.Axes, surface: Surface, num: int = 241) -> None:
    """Filled log-spaced contours of ``surface.loss`` in its window, its minimum (if any) marked.

    Args:
        ax: Axes to draw into.
        surface: The surface.
        num: Grid points per axis.
    """
    W1, W2 = np.meshgrid(np.linspace(*surface.xlim, num), np.linspace(*surface.ylim, num))
    L = np.asarray(surface.loss(np.stack([W1, W2], axis=-1)))
    top = np.quantile(L, 0.9)
    levels = np.geomspace(max(L.min(), top * 1e-4), top, 14)
    L = np.maximum(L, levels[0] / 2)  # log colour scale: lift exact zeros (minima) to the floor
    ax.contourf(W1, W2, L, levels=levels, cmap="viridis", norm=colors.LogNorm(), extend="both")
    if surface.minimum is not None:
        ax.plot(*surface.minimum, marker="*", ms=14, color="white", mec="k", ls="")
    ax.set(xlim=surface.xlim, ylim=surface.ylim, xlabel="$w_1$", ylabel="$w_2$")


def plot_trajectory(
    ax: plt.Axes, run: dict[str, np.ndarray], color: str, label: str, marker_every: int = 0
) -> None:
    """Draw a trajectory ``theta_0, theta_1, ...`` from :func:`run_optimizer` into ``ax``.

    Args:
        ax: Axes (usually drawn by :func:`plot_surface`).
        run: Output of :func:`run_optimizer`.
        color: Line colour.
        label: Legend label.
        marker_every: If positive, mark every that many points.
    """
    th = run["theta"]
    ax.plot(
        th[:, 0],
        th[:, 1],
        color=color,
        lw=1.6,
        label=label,
        marker="o" if marker_every else None,
        ms=2.5,
        markevery=marker_every or None,
    )
    ax.plot(*th[0], "o", color="white", mec="k", ms=7)


def draw_optimizer_race(
    surface: str = "ill-conditioned quadratic",
    optimizers=("SGD", "Momentum", "AdaGrad", "RMSProp", "Adam"),
    lr: float = 0.1,
    num_steps: int = 200,
) -> plt.Figure:
    """The optimizer race: every optimizer from the same start, with the same ``lr``.

    Left: trajectories on the surface. Right: loss against step (log scale); the legend gives the
    final loss. A run that leaves ``|theta| < 10^6`` is stopped and reported as diverged.

    Args:
        surface: A name in :data:`SURFACES`.
        optimizers: Names in :data:`OPTIMIZERS`.
        lr: The learning rate every optimizer uses.
        num_steps: Steps per optimizer.

    Returns:
        plt.Figure: The figure.
    """
    surf = SURFACES[surface]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), width_ratios=[1.25, 1])
    plot_surface(ax1, surf)
    for name in optimizers:
        run = run_optimizer(surf.loss, surf.start, name, lr, num_steps)
        diverged = len(run["loss"]) < num_steps + 1 or not np.isfinite(run["loss"][-1])
        tag = "diverged" if diverged else f"final L = {run['loss'][-1]:.1e}"
        color = OPTIMIZER_COLORS[name]
        plot_trajectory(ax1, run, color, name)
        ax2.semilogy(np.maximum(run["loss"], 1e-300), color=color, lw=1.6, label=f"{name}: {tag}")
    ax1.set_title(f"{surf.name}: lr = {lr:g}, {num_steps} steps")
    ax1.legend(fontsize=8, loc="best")
    ax2.set(
        xlabel="step",
        ylabel="loss $L$",
        title="loss per step",
        ylim=(max(ax2.get_ylim()[0], 1e-16), None),
    )
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- Lecture 3a (adaptive methods): step sizes, a validation split, training to a loss --------


def step_sizes(optimizer: str | Callable, gradients, lr: float = 0.01) -> np.ndarray:
    """Step lengths ``|w_t - w_{t-1}| / lr`` of an optimizer fed a given gradient sequence.

    A one-parameter model ``w`` (``float64``, ``w_0 = 0``) receives ``g_1, g_2, ...`` as its
    ``.grad`` in turn, whatever ``w`` is, and the optimizer takes one step per gradient. So
    plain SGD gives ``|g_t|``, and an adaptive method gives ``|m_t| / sigma_t`` (its step in
    units of ``lr``).

    Args:
        optimizer: A name in :data:`OPTIMIZERS`, or a factory ``(params, lr) -> optimizer``.
        gradients: The gradients ``g_1, ..., g_T`` (scalars).
        lr: Learning rate.

    Returns:
        np.ndarray: Shape ``(T,)``, the step lengths in units of ``lr``.
    """
    factory = OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = factory([w], lr)
    sizes = []
    for g in np.asarray(gradients, dtype=np.float64):
        before = w.detach().clone()
        w.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        sizes.append(abs((w.detach() - before).item()) / lr)
    return np.array(sizes)


def adagrad_step_sizes(gradients, form: str = "sum", eps: float = 1e-10) -> np.ndarray:
    """AdaGrad's step lengths ``|w_t - w_{t-1}| / lr = |g_t| / sigma_t`` in two forms.

    With ``G_t = sum_{tau <= t} g_tau^2``:

    * ``form="sum"`` (``torch.optim.Adagrad``): ``sigma_t = sqrt(G_t) + eps``. Since
      ``G_t >= g_t^2``, every step is at most ``lr``.
    * ``form="mean"`` (Hung-yi Lee's root mean square): ``sigma_t = sqrt(G_t / t) + eps``. Then
      ``|g_t| / sigma_t <= sqrt(t)``: a large gradient after many small ones gives a step of up
      to ``sqrt(t) lr``.

    Args:
        gradients: The gradients ``g_1, ..., g_T`` (scalars, or arrays of one shape: elementwise).
        form: ``"sum"`` or ``"mean"``.
        eps: Added to the square root.

    Returns:
        np.ndarray: Shape ``(T, ...)``, the step lengths in units of ``lr``.
    """
    g = np.asarray(gradients, dtype=np.float64)
    G = np.cumsum(g**2, axis=0)
    if form == "sum":
        sigma = np.sqrt(G) + eps
    elif form == "mean":
        t = np.arange(1, len(g) + 1).reshape((-1,) + (1,) * (g.ndim - 1))
        sigma = np.sqrt(G / t) + eps
    else:
        raise ValueError(f"form must be 'sum' or 'mean', not {form!r}")
    return np.abs(g) / sigma


@dataclass(frozen=True)
class DigitsSplits:
    """Standardized train, validation and test tensors of *digits*.

    Attributes:
        X_train: ``float32`` features the model is trained on, shape ``(N, 64)``.
        y_train: ``int64`` labels in ``0..9``, shape ``(N,)``.
        X_val: Features used to choose hyperparameters, shape ``(N_val, 64)``.
        y_val: Labels, shape ``(N_val,)``.
        X_test: Features used once, to report the chosen models, shape ``(N_test, 64)``.
        y_test: Labels, shape ``(N_test,)``.
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


def load_digits_train_val_test(
    val_size: float = 0.2, test_size: float = 0.25, seed: int = 0, device="cpu"
) -> DigitsSplits:
    """Split *digits* into train, validation and test, standardized with training statistics.

    The test split is exactly that of ``wwit.digits.load_digits_split(test_size, seed)``; the
    validation split is a stratified fraction ``val_size`` of the rest. Features are standardized
    as ``x' = (x - mu) / sigma`` with the mean and standard deviation of the *training* part only
    (constant pixels keep ``sigma = 1``), so neither the validation nor the test split leaks into
    the model.

    Args:
        val_size: Fraction of the non-test samples held out for validation.
        test_size: Fraction of the 1797 samples held out for testing.
        seed: Seed of both (stratified) splits.
        device: Where the tensors live.

    Returns:
        DigitsSplits: ``X`` as ``float32``, ``y`` as ``int64``, on ``device``.
    """
    X, y = load_digits(return_X_y=True)
    X_rest, X_te, y_rest, y_te = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    X_tr, X_va, y_tr, y_va = train_test_split(
        X_rest, y_rest, test_size=val_size, random_state=seed, stratify=y_rest
    )
    mu, sigma = X_tr.mean(axis=0), X_tr.std(axis=0)
    sigma = np.where(sigma > 0, sigma, 1.0)

    def to_x(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((a - mu) / sigma, dtype=torch.float32, device=device)

    def to_y(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.int64, device=device)

    return DigitsSplits(to_x(X_tr), to_y(y_tr), to_x(X_va), to_y(y_va), to_x(X_te), to_y(y_te))


def train_recording_loss(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    num_epochs: int,
    batch_size: int = 64,
    seed: int = 0,
    targets=(),
) -> dict:
    """Mini-batch training with cross-entropy; the full training loss after every step.

    Each step applies ``optimizer`` to the gradient of the mean cross-entropy on one mini-batch
    of a reshuffled epoch (:func:`wwit.digits.minibatches`), then evaluates the loss on all of
    ``(X, y)``: ``L(w_0), L(w_1), ...``. For every target loss ``L*`` it keeps a copy of the
    model at the first step ``t`` with ``L(w_t) <= L*``, so that different optimizers can be
    compared *at equal training loss*.

    Args:
        model: The network; trained in place.
        optimizer: A ``torch.optim`` optimizer over ``model.parameters()``.
        X: Training features, shape ``(N, d)``.
        y: Training labels, shape ``(N,)``.
        num_epochs: Passes over the training set.
        batch_size: Mini-batch size ``B``.
        seed: Seed of the shuffling.
        targets: Target training losses ``L*``.

    Returns:
        dict: ``"loss"``: ``np.ndarray`` of shape ``(T + 1,)``, the full training loss before the
        first and after every step; ``"reached"``: ``{L*: (t, model copy)}`` for every target
        reached (missing if not reached within ``num_epochs``).
    """
    gen = torch.Generator().manual_seed(seed)

    def full_loss() -> float:
        with torch.no_grad():
            return nn.functional.cross_entropy(model(X), y).item()

    losses = [full_loss()]
    reached = {}
    for _ in range(num_epochs):
        for idx in minibatches(len(y), batch_size, gen):
            idx = idx.to(X.device)
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            optimizer.step()
            losses.append(full_loss())
            for target in targets:
                if target not in reached and losses[-1] <= target:
                    reached[target] = (len(losses) - 1, copy.deepcopy(model))
    return {"loss": np.array(losses), "reached": reached}
