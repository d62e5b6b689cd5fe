"""Sharpness of a minimum: the top eigenvalue of the Hessian, without forming the Hessian.

A network with ``P`` parameters has a ``P x P`` Hessian ``H``; storing it is often impossible,
but a Hessian-vector product ``H v = grad_w (g(w)^T v)`` costs about two backward
passes (Pearlmutter 1994). Power iteration needs nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


def hessian_vector_product(
    loss: torch.Tensor, params: list[torch.Tensor]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``v -> H v`` for the Hessian of ``loss`` with respect to ``params``.

    Uses ``H v = d/dw (g^T v)`` with ``v`` held constant: ``g`` is computed once with
    ``create_graph=True``, every product is one more backward pass through that graph.

    Args:
        loss: Scalar loss, computed from ``params`` with autograd enabled.
        params: The tensors ``w`` (``requires_grad``); ``P`` numbers in all.

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
        model: Network mapping ``X`` to logits; its parameters are ``w``.
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


def steps_to_escape(
    loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    w0: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    lr: float,
    momentum: float = 0.0,
    drop: float = 0.01,
    max_steps: int = 10_000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Updates of mini-batch SGD (with momentum) until the loss falls ``drop`` below its start.

    Runs ``R`` independent copies of PyTorch's form of SGD with momentum, each from its row of
    ``w_0`` with ``b_0 = 0``: ``b_t = mu b_{t-1} + g_t``, ``w_t = w_{t-1} - lr b_t``, where
    ``g_t`` is the gradient of ``loss_fn(w_{t-1}, X_B, y_B)`` on the next mini-batch ``B`` of a
    shuffled epoch (each run shuffles on its own; ``batch_size >= N``: the whole set, full-batch
    gradient descent). After every update it evaluates the loss on all of ``(X, y)``; run ``r``
    escapes at the first ``t`` with ``L(w_t) <= L(w_0) - drop``. Started near a saddle point,
    that ``t`` measures how long the run stays stuck. All runs are computed at once with
    ``torch.func.vmap``.

    Args:
        loss_fn: ``loss_fn(w, X, y)`` -> scalar loss (a mean over the rows), for a flat ``w``.
        w0: Starting parameters, shape ``(R, P)``: one run per row.
        X: Inputs, shape ``(N, ...)``.
        y: Targets, shape ``(N, ...)``.
        batch_size: Rows per update ``B``.
        lr: Learning rate.
        momentum: Momentum coefficient ``mu`` (0: plain SGD).
        drop: How far below ``L(w_0)`` the loss must fall.
        max_steps: Give up after this many updates.
        seed: Seed of the shuffling (run ``r`` draws its own permutations from one generator).

    Returns:
        tuple[np.ndarray, np.ndarray]: The escape step ``t`` of every run, shape ``(R,)``
        (``nan`` where the loss did not fall far enough within ``max_steps``), and the full
        losses ``L(w_0), L(w_1), ...`` of shape ``(T + 1, R)``, up to the last update made.
    """
    num_runs, num_samples = len(w0), len(X)
    batch_size = min(batch_size, num_samples)
    batched_grad = torch.func.vmap(torch.func.grad(loss_fn))
    batched_loss = torch.func.vmap(loss_fn, in_dims=(0, None, None))
    gen = torch.Generator().manual_seed(seed)
    w = w0.detach().clone()
    b = torch.zeros_like(w)
    losses = [batched_loss(w, X, y)]
    steps = torch.full((num_runs,), float("nan"), dtype=torch.float64)
    order, position = None, num_samples
    for t in range(1, max_steps + 1):
        if position + batch_size > num_samples:  # a new epoch: reshuffle every run
            order = torch.stack(
                [torch.randperm(num_samples, generator=gen) for _ in range(num_runs)]
            )
            position = 0
        idx = order[:, position : position + batch_size]  # (R, B)
        position += batch_size
        b = momentum * b + batched_grad(w, X[idx], y[idx])
        w = w - lr * b
        losses.append(batched_loss(w, X, y))
        escaped = (losses[-1] <= losses[0] - drop) & steps.isnan()
        steps[escaped] = t
        if not steps.isnan().any():
            break
    return steps.numpy(), torch.stack(losses).detach().numpy()
