"""Sharpness of a minimum: the top eigenvalue of the Hessian, without forming the Hessian.

A network with ``P`` parameters has a ``P x P`` Hessian ``H``; storing it is often impossible,
but a Hessian-vector product ``H v = grad_theta (g(theta)^T v)`` costs about two backward
passes (Pearlmutter 1994). Power iteration needs nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def hessian_vector_product(
    loss: torch.Tensor, params: list[torch.Tensor]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``v -> H v`` for the Hessian of ``loss`` with respect to ``params``.

    Uses ``H v = d/dtheta (g^T v)`` with ``v`` held constant: ``g`` is computed once with
    ``create_graph=True``, every product is one more backward pass through that graph.

    Args:
        loss: Scalar loss, computed from ``params`` with autograd enabled.
        params: The tensors ``theta`` (``requires_grad``); ``P`` numbers in all.

    Returns:
        Callable[[torch.Tensor], torch.Tensor]: Maps a flat ``v`` of shape ``(P,)`` to ``H v``
        of shape ``(P,)`` (parameters concatenated in the order of ``params``).
    """
    grads = torch.autograd.grad(loss, params, create_graph=True)
    g = torch.cat([gi.reshape(-1) for gi in grads])

    def hvp(v: torch.Tensor) -> torch.Tensor:
        Hv = torch.autograd.grad(g @ v, params, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in Hv])

    return hvp


def top_hessian_eigenvalue(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    max_iter: int = 200,
    rtol: float = 1e-5,
    seed: int = 0,
) -> tuple[float, int]:
    """Largest-magnitude eigenvalue of the Hessian of the mean cross-entropy, by power iteration.

    Power iteration: ``v_0`` random with ``||v_0|| = 1``; ``lambda_k = v_k^T H v_k`` (Rayleigh
    quotient) and ``v_{k+1} = H v_k / ||H v_k||``. It converges to the eigenvalue of largest
    ``|lambda|`` at the rate ``|lambda_2 / lambda_1|`` per iteration. Near a minimum ``H`` is
    (almost) positive semi-definite, so this is the top eigenvalue ``lambda_max``, the curvature
    along the sharpest direction: the "sharpness" of Keskar et al. (2017).

    Args:
        model: Network mapping ``X`` to logits; its parameters are ``theta``.
        X: Inputs of the loss (for sharpness: the whole training set).
        y: Class labels, shape ``(N,)``.
        max_iter: Maximum number of Hessian-vector products.
        rtol: Stop when ``|lambda_k - lambda_{k-1}| <= rtol |lambda_k|``.
        seed: Seed of the random start ``v_0``.

    Returns:
        tuple[float, int]: The eigenvalue estimate and the number of iterations used.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    hvp = hessian_vector_product(nn.functional.cross_entropy(model(X), y), params)
    gen = torch.Generator().manual_seed(seed)
    num = sum(p.numel() for p in params)
    v = torch.randn(num, generator=gen, dtype=params[0].dtype).to(params[0].device)
    v = v / torch.linalg.vector_norm(v)
    eigenvalue = float("nan")
    for k in range(1, max_iter + 1):
        Hv = hvp(v)
        new = (v @ Hv).item()
        v = Hv / torch.linalg.vector_norm(Hv)
        if abs(new - eigenvalue) <= rtol * abs(new):
            return new, k
        eigenvalue = new
    return eigenvalue, max_iter
