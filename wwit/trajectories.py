"""Optimizer trajectories on small error surfaces: gradient descent, momentum and Nesterov.

Every path here is produced by ``torch.optim.SGD`` (float64) on a tensor of 1 or 2 parameters,
so it follows PyTorch's definitions exactly: with gradient ``g_t = grad f(w_t)`` and buffer
``b_0 = 0``,

* momentum:  ``b_{t+1} = mu b_t + g_t``,  ``w_{t+1} = w_t - lr b_{t+1}``;
* Nesterov:  ``b_{t+1} = mu b_t + g_t``,  ``w_{t+1} = w_t - lr (g_t + mu b_{t+1})``;
* ``mu = 0`` is plain gradient descent ``w_{t+1} = w_t - lr g_t``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch


def ravine(w, curvatures: tuple[float, float] = (1.0, 25.0)):
    """Ill-conditioned quadratic ``f(w) = (a w_1^2 + b w_2^2) / 2`` with ``(a, b) = curvatures``.

    Its Hessian is ``diag(a, b)``, so gradient descent is stable only for ``lr < 2 / b`` and
    then shrinks the ``w_1`` error by ``|1 - lr a|`` per step: the condition number ``b / a``
    sets how slowly it crawls along the ravine.

    Args:
        w: Array or tensor of shape ``(..., 2)``.
        curvatures: The eigenvalues ``(a, b)`` of the Hessian.

    Returns:
        Array or tensor of shape ``(...)``.
    """
    a, b = curvatures
    return 0.5 * (a * w[..., 0] ** 2 + b * w[..., 1] ** 2)


def bump_1d(w, dip: float = 0.5, center: float = 3.0, width: float = 0.3):
    """A bowl with a small extra dip: ``f(w) = w^2 / 10 - dip exp(-(w - center)^2 / (2 width^2))``.

    With the defaults the global minimum is at ``w = 0`` (``f`` about 0) and the dip creates a
    shallow local minimum near ``w = 2.9`` behind a low barrier near ``w = 2.4``.

    Args:
        w: Array or tensor of any shape (one parameter per entry).
        dip: Depth of the Gaussian dip.
        center: Position of the dip.
        width: Standard deviation of the dip.

    Returns:
        Array or tensor of the shape of ``w``.
    """
    lib = torch if isinstance(w, torch.Tensor) else np
    return 0.1 * w**2 - dip * lib.exp(-((w - center) ** 2) / (2 * width**2))


def bump_2d(w):
    """:func:`bump_1d` along ``w_1`` plus a steeper valley across: ``f = bump_1d(w_1) + w_2^2``.

    Args:
        w: Array or tensor of shape ``(..., 2)``.

    Returns:
        Array or tensor of shape ``(...)``.
    """
    return bump_1d(w[..., 0]) + w[..., 1] ** 2


def banana(w):
    """A scaled Rosenbrock function ``f = ((1 - w_1)^2 + 10 (w_2 - w_1^2)^2) / 4``.

    Its minimum ``f = 0`` is at ``(1, 1)``, at the end of a curved, flat-bottomed valley.

    Args:
        w: Array or tensor of shape ``(..., 2)``.

    Returns:
        Array or tensor of shape ``(...)``.
    """
    return 0.25 * ((1 - w[..., 0]) ** 2 + 10 * (w[..., 1] - w[..., 0] ** 2) ** 2)


@dataclass(frozen=True)
class Surface:
    """A two-parameter error surface with a starting point and a plotting window.

    Attributes:
        loss: ``f``, mapping shape ``(..., 2)`` to ``(...)`` for arrays and tensors.
        start: Initial point ``w_0``.
        minimum: A global minimizer ``w*`` (``f(w*)`` is subtracted in loss curves).
        xlim: Plot range of ``w_1``.
        ylim: Plot range of ``w_2``.
    """

    loss: Callable
    start: tuple[float, float]
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]


#: The surfaces of the trajectory explorer, by name.
SURFACES = {
    "ravine": Surface(
        ravine, start=(-9.0, 1.5), minimum=(0.0, 0.0), xlim=(-10.0, 2.0), ylim=(-2.5, 2.5)
    ),
    "small local minimum": Surface(
        bump_2d, start=(5.5, 1.0), minimum=(0.0, 0.0), xlim=(-2.5, 6.0), ylim=(-2.0, 2.0)
    ),
    "banana (Rosenbrock)": Surface(
        banana, start=(-1.5, 2.0), minimum=(1.0, 1.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0)
    ),
}


def sgd_path(
    loss_fn: Callable,
    w0: Sequence[float],
    lr: float | Sequence[float],
    momentum: float = 0.0,
    nesterov: bool = False,
    num_steps: int = 100,
) -> np.ndarray:
    """The iterates ``w_0, ..., w_T`` of ``torch.optim.SGD`` on ``loss_fn`` (float64).

    Args:
        loss_fn: ``f``, mapping a tensor of shape ``(d,)`` to a scalar (or to ``(1,)``).
        w0: Starting point, ``d`` numbers.
        lr: Learning rate, or one learning rate per step (a sequence of length ``num_steps``;
            it is written into the optimizer's ``param_groups`` before each step, as a
            scheduler would).
        momentum: ``mu``; 0 gives plain gradient descent.
        nesterov: Use Nesterov momentum.
        num_steps: ``T``, the number of steps.

    Returns:
        np.ndarray: Shape ``(T + 1, d)``. Once the iterates diverge (a non-finite entry or
        ``|w_i| > 1e6``) the remaining rows are NaN.
    """
    lrs = np.broadcast_to(np.asarray(lr, dtype=float), (num_steps,))
    w = torch.tensor(np.asarray(w0, dtype=float), requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=float(lrs[0]), momentum=momentum, nesterov=nesterov)
    path = np.full((num_steps + 1, w.numel()), np.nan)
    path[0] = w0
    for t in range(num_steps):
        optimizer.param_groups[0]["lr"] = float(lrs[t])
        optimizer.zero_grad()
        loss_fn(w).sum().backward()
        optimizer.step()
        if not torch.isfinite(w).all() or w.abs().max() > 1e6:
            break
        path[t + 1] = w.detach().numpy()
    return path


def plot_surface(ax: plt.Axes, surface: Surface, num_levels: int = 14) -> None:
    """Contours of ``f - f(w*)`` on the surface's window (levels spaced geometrically).

    Args:
        ax: Axes to draw into.
        surface: The surface.
        num_levels: Number of contour levels.
    """
    w1 = np.linspace(*surface.xlim, 300)
    w2 = np.linspace(*surface.ylim, 300)
    W1, W2 = np.meshgrid(w1, w2)
    f_min = float(surface.loss(np.array(surface.minimum)))
    F = surface.loss(np.stack([W1, W2], axis=-1)) - f_min
    top = np.percentile(F, 95)
    levels = np.geomspace(top * 1e-3, top, num_levels)
    ax.contourf(
        W1,
        W2,
        F,
        levels=np.concatenate([[F.min()], levels]),
        cmap="Blues_r",
        extend="max",
        alpha=0.8,
    )
    ax.contour(W1, W2, F, levels=levels, colors="0.4", linewidths=0.5)
    ax.plot(
        *surface.minimum, marker="*", ms=14, color="gold", mec="k", ls="", label="global minimum"
    )
    ax.set(xlim=surface.xlim, ylim=surface.ylim, xlabel=r"$w_1$", ylabel=r"$w_2$")


def plot_path(ax: plt.Axes, path: np.ndarray, label: str, color: str, ls: str = "-") -> None:
    """Draw an optimizer path ``w_0, w_1, ...`` (shape ``(T + 1, 2)``) with its start marked."""
    ax.plot(path[:, 0], path[:, 1], ls, color=color, lw=1.5, marker="o", ms=2.5, label=label)
    ax.plot(*path[0], "o", ms=8, color=color, mec="k")


def draw_trajectories(
    surface: str = "ravine",
    lr: float = 0.07,
    momentum: float = 0.9,
    nesterov: bool = False,
    num_steps: int = 100,
) -> plt.Figure:
    """Gradient descent and (Nesterov) momentum on one surface, with their loss curves.

    Left: contours of the surface, the path of plain gradient descent (``momentum = 0``, dashed)
    and of ``torch.optim.SGD(lr, momentum, nesterov)`` from the same start, both with the same
    ``lr``. Right: ``f(w_t) - f(w*)`` against the step ``t`` (log scale).

    Args:
        surface: A key of :data:`SURFACES`.
        lr: Learning rate of both optimizers.
        momentum: ``mu`` of the second optimizer.
        nesterov: Whether the second optimizer uses Nesterov momentum.
        num_steps: Steps ``T`` of each optimizer.

    Returns:
        plt.Figure: The figure (call ``plt.show()`` to display it).
    """
    surf = SURFACES[surface]
    f_min = float(surf.loss(np.array(surf.minimum)))
    name = f"{'Nesterov' if nesterov else 'momentum'} $\\mu = {momentum:g}$"
    runs = [
        (
            "gradient descent",
            sgd_path(surf.loss, surf.start, lr, 0.0, False, num_steps),
            "tab:orange",
            "--",
        ),
        (name, sgd_path(surf.loss, surf.start, lr, momentum, nesterov, num_steps), "tab:red", "-"),
    ]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.5, 4.6), width_ratios=[1.35, 1])
    plot_surface(ax, surf)
    for label, path, color, ls in runs:
        gap = surf.loss(path) - f_min
        finite = np.isfinite(gap)
        status = (
            f"after {num_steps} steps: $f - f^* = {gap[finite][-1]:.1e}$"
            if finite.all()
            else f"diverged at step {int(np.argmin(finite))}"
        )
        plot_path(ax, path[finite], f"{label} ({status})", color, ls)
        ax2.semilogy(
            np.arange(num_steps + 1)[finite],
            np.maximum(gap[finite], 1e-16),
            ls,
            color=color,
            label=label,
        )
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    ax.set_title(f"{surface}: lr = {lr:g}, {num_steps} steps", fontsize=11)
    ax2.set(xlabel="step $t$", ylabel=r"$f(w_t) - f(w^*)$", title="loss gap (log scale)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig
