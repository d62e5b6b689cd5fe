"""Gradients, Hessians and curvature read-outs computed with ``torch.func`` (autograd)."""

from __future__ import annotations

import torch
from torch.func import grad, hessian


def gradient_and_hessian(loss_fn, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient ``g = dL/dtheta`` and Hessian ``H_ij = d^2 L / dtheta_i dtheta_j`` by autograd.

    Args:
        loss_fn: Scalar function of a flat parameter tensor.
        theta: Point ``theta'`` of shape ``(P,)``.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``g`` of shape ``(P,)`` and ``H`` of shape ``(P, P)``.
    """
    return grad(loss_fn)(theta), hessian(loss_fn)(theta)


def describe_point(g: torch.Tensor, eigvals: torch.Tensor, tol: float = 1e-6) -> str:
    """Name a point from its gradient and the eigenvalues of its Hessian.

    If ``||g|| > tol`` the point is not critical and the second-order test does not apply. At a
    critical point (``||g|| <= tol``): all ``lambda > tol`` is a local minimum, all
    ``lambda < -tol`` a local maximum, eigenvalues of both signs a saddle point; otherwise some
    ``|lambda| <= tol`` and the second-order test cannot decide.

    Args:
        g: Gradient at the point, shape ``(P,)``.
        eigvals: Eigenvalues of the Hessian at the point, shape ``(P,)``.
        tol: Threshold below which a gradient norm or an eigenvalue counts as zero.

    Returns:
        str: A short human-readable label.
    """
    if torch.linalg.vector_norm(g) > tol:
        return "not a critical point (g ≠ 0)"
    pos, neg = bool((eigvals > tol).any()), bool((eigvals < -tol).any())
    if pos and neg:
        return "saddle point"
    if bool((eigvals.abs() <= tol).any()):
        return "second-order test inconclusive (zero eigenvalue)"
    return "local minimum" if pos else "local maximum"
