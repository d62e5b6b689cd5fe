"""Lecture 3: toy error surfaces in two parameters and an optimizer race on them.

Every optimizer is the real ``torch.optim`` class acting on a two-element parameter
``theta = (w1, w2)`` in ``float64``; a run records the trajectory, the loss and the gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import colors

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
