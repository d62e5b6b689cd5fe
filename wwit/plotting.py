"""Figures shared by the lectures: error-surface contours and the critical-point explorer."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import colors

from wwit.hessian import describe_point, gradient_and_hessian
from wwit.surfaces import loss_on_grid, product_loss, quadratic_model

#: Contour levels for ``L = (1 - w1 w2)^2`` (roughly geometric, so the flat valley is resolved).
SURFACE_LEVELS = np.array([0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0])
VALLEY_COLOR = "#ff4fd8"


def plot_loss_surface(ax: plt.Axes, extent: float = 2.5, colorbar: bool = True) -> None:
    """Filled contours of ``L(w1, w2) = (1 - w1 w2)^2`` with its critical points marked.

    The critical points solve ``g = -2 (1 - w1 w2) (w2, w1) = 0``: the origin (a saddle) and the
    whole valley (hyperbola) ``w1 w2 = 1``, where ``L = 0`` (global minima).

    Args:
        ax: Axes to draw into.
        extent: The plot shows ``[-extent, extent]^2``.
        colorbar: Whether to add a colour bar for ``L``.
    """
    W1, W2, L = loss_on_grid(product_loss, extent=extent)
    norm = colors.BoundaryNorm(SURFACE_LEVELS, ncolors=256)
    cs = ax.contourf(W1, W2, L, levels=SURFACE_LEVELS, cmap="viridis", norm=norm, extend="max")
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, label=r"$L(w_1, w_2)$", ticks=SURFACE_LEVELS, format="%g")
    w = np.linspace(1.0 / extent, extent, 200)
    for sign in (1.0, -1.0):
        ax.plot(
            sign * w,
            sign / w,
            color=VALLEY_COLOR,
            ls="--",
            lw=1.5,
            label=r"valley $w_1 w_2 = 1$ (minima)" if sign > 0 else None,
        )
    ax.plot(0.0, 0.0, marker="X", ms=11, color="red", mec="white", ls="", label="origin (saddle)")
    ax.set(
        xlim=(-extent, extent),
        ylim=(-extent, extent),
        xlabel=r"$w_1$",
        ylabel=r"$w_2$",
        aspect="equal",
    )


def draw_explorer(
    w1: float = 0.0, w2: float = 0.0, radius: float = 0.75, extent: float = 2.5, tol: float = 1e-6
) -> plt.Figure:
    """Draw the local second-order picture of ``L = (1 - w1 w2)^2`` at ``w' = (w1, w2)``.

    Left: the surface, the point, contours (dashed) of the Taylor model ``q(w) = L(w') +
    (w - w')^T g + 1/2 (w - w')^T H (w - w')`` within ``radius``, the
    steepest-descent direction ``-g`` and the eigenvectors ``q_i`` of ``H`` (length grows with
    ``|lambda_i|``; red: ``lambda_i < 0``, blue: ``lambda_i > 0``, grey: ``lambda_i ~ 0``).
    Right: ``L(w' + r q_i)`` against the model ``L(w') + r g^T q_i + lambda_i r^2 / 2``.
    ``g`` and ``H`` come from autograd (``torch.func``).

    Args:
        w1: First coordinate of ``w'``.
        w2: Second coordinate of ``w'``.
        radius: Size of the neighbourhood where the quadratic model is drawn.
        extent: The surface is shown on ``[-extent, extent]^2``.
        tol: Gradient norms and eigenvalues with absolute value ``<= tol`` count as zero.

    Returns:
        plt.Figure: The figure (call ``plt.show()`` to display it).
    """
    theta0 = torch.tensor([w1, w2], dtype=torch.float64)
    g, H = gradient_and_hessian(product_loss, theta0)
    lam, U = torch.linalg.eigh(H)
    label = describe_point(g, lam, tol)
    p0, g_np, H_np = theta0.numpy(), g.numpy(), H.numpy()
    lam_np, U_np = lam.numpy(), U.numpy()
    loss0 = float(product_loss(theta0))

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.5, 5.2), width_ratios=[1.15, 1])
    plot_loss_surface(ax, extent=extent)
    s = np.linspace(-radius, radius, 81)
    D1, D2 = np.meshgrid(s, s)
    Q = quadratic_model(np.stack([p0[0] + D1, p0[1] + D2], axis=-1), p0, loss0, g_np, H_np)
    Q[D1**2 + D2**2 > radius**2] = np.nan
    ax.contour(
        p0[0] + D1,
        p0[1] + D2,
        Q,
        levels=SURFACE_LEVELS,
        colors="k",
        linestyles="--",
        linewidths=1.0,
    )
    ax.add_patch(plt.Circle(p0, radius, fill=False, color="k", lw=0.8))
    ax.plot([], [], "k--", lw=1.0, label="quadratic model $q$")

    lam_max = max(np.abs(lam_np).max(), 1e-12)
    for i in range(2):
        color = "tab:red" if lam_np[i] < -tol else "tab:blue" if lam_np[i] > tol else "0.2"
        half = radius * (0.4 + 0.6 * abs(lam_np[i]) / lam_max)
        ends = np.stack([p0 - half * U_np[:, i], p0 + half * U_np[:, i]])
        ax.plot(
            ends[:, 0],
            ends[:, 1],
            color=color,
            lw=3,
            label=rf"$\pm q_{i + 1}$, $\lambda_{i + 1} = {lam_np[i]:.2f}$",
        )
        r = np.linspace(-1.5 * radius, 1.5 * radius, 121)
        along = torch.as_tensor(p0 + r[:, None] * U_np[:, i])
        ax2.plot(
            r, product_loss(along).numpy(), color=color, lw=2, label=rf"$L(w' + r\,q_{i + 1})$"
        )
        ax2.plot(
            r,
            loss0 + r * (g_np @ U_np[:, i]) + 0.5 * lam_np[i] * r**2,
            color=color,
            ls="--",
            lw=1.5,
            label=rf"model, $\lambda_{i + 1} = {lam_np[i]:.2f}$",
        )
    gnorm = float(np.linalg.norm(g_np))
    if gnorm > tol:
        d = -g_np / gnorm * radius
        ax.annotate(
            "", xy=p0 + d, xytext=p0, arrowprops={"arrowstyle": "-|>", "color": "orange", "lw": 2.5}
        )
        ax.plot([], [], color="orange", lw=2.5, label=rf"$-g$ direction, $\|g\| = {gnorm:.2f}$")
    ax.plot(*p0, "o", ms=9, color="orange", mec="k", label=r"$w'$")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    ax.set_title(rf"$w' = ({w1:.2f}, {w2:.2f})$: {label}", fontsize=11)
    ax2.axhline(loss0, color="0.6", lw=0.8)
    ax2.set(
        xlabel=r"step $r$ along the eigenvector",
        ylabel="loss",
        title="1-D slices: true loss (solid) vs quadratic model (dashed)",
    )
    ax2.set_ylim(bottom=min(-0.1, ax2.get_ylim()[0]))
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig
