"""Toy error surfaces and second-order (quadratic) models of them."""

from __future__ import annotations

import numpy as np


def product_loss(theta, x: float = 1.0, y: float = 1.0):
    """Squared error of the two-weight model y_hat = w1 * w2 * x.

    Implements ``L(w1, w2) = (y - w1 w2 x)^2`` elementwise over the leading dimensions, so it
    works for one point (shape ``(2,)``) as well as for a grid (shape ``(..., 2)``), with both
    NumPy arrays and torch tensors (autograd-friendly).

    Args:
        theta: Array or tensor of shape ``(..., 2)`` holding ``(w1, w2)`` in its last axis.
        x: The single training input.
        y: The single training target.

    Returns:
        Array or tensor of shape ``(...)``: the loss at each point.
    """
    return (y - theta[..., 0] * theta[..., 1] * x) ** 2


def loss_on_grid(loss_fn, extent: float = 2.5, num: int = 201):
    """Evaluate a two-parameter loss on a square grid ``[-extent, extent]^2``.

    Args:
        loss_fn: Callable mapping an array of shape ``(..., 2)`` to losses of shape ``(...)``.
        extent: Half-width of the square.
        num: Grid points per axis.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: ``(W1, W2, L)``, each of shape ``(num, num)``,
        as produced by ``np.meshgrid`` (``W1`` varies along columns).
    """
    w = np.linspace(-extent, extent, num)
    w1, w2 = np.meshgrid(w, w)
    return w1, w2, np.asarray(loss_fn(np.stack([w1, w2], axis=-1)))


def quadratic_model(theta, theta0, loss0: float, g, H):
    """Second-order Taylor model of a loss around ``theta0``.

    Implements ``q(theta) = L(theta') + (theta - theta')^T g + 1/2 (theta - theta')^T H
    (theta - theta')`` with ``theta' = theta0``, vectorized over the leading dimensions.

    Args:
        theta: Points of shape ``(..., P)`` where the model is evaluated.
        theta0: Expansion point ``theta'`` of shape ``(P,)``.
        loss0: ``L(theta')``.
        g: Gradient at ``theta'``, shape ``(P,)``.
        H: Hessian at ``theta'``, shape ``(P, P)``.

    Returns:
        np.ndarray: ``q(theta)`` of shape ``(...)``.
    """
    d = np.asarray(theta, dtype=float) - np.asarray(theta0, dtype=float)
    g = np.asarray(g, dtype=float)
    H = np.asarray(H, dtype=float)
    return loss0 + d @ g + 0.5 * np.einsum("...i,ij,...j->...", d, H, d)
