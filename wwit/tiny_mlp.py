"""Tiny one-hidden-layer MLPs stored as flat parameter vectors, studied many at a time.

Every network is a vector ``theta`` of ``P`` numbers, so a batch of networks is a ``(R, P)``
tensor and ``torch.func.vmap`` gives per-network losses, gradients and Hessians in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, hessian, vmap


@dataclass(frozen=True)
class TinyMLP:
    """The model ``f(x) = w2^T tanh(W1 x + b1) + b2`` and its regularized squared error.

    The training objective is ``L(w) = 1/N sum_n (f(x_n) - y_n)^2 + wd/2 ||w||^2`` with
    ``wd = weight_decay``. The flat parameter vector ``w`` (named ``theta`` in the older
    signatures below) concatenates ``W1`` (hidden x d_in), ``b1`` (hidden), ``w2`` (hidden) and
    ``b2`` (1), so ``P = hidden * (d_in + 2) + 1``.

    Attributes:
        d_in: Input dimension.
        hidden: Number of hidden tanh units.
        weight_decay: ``wd`` above.
    """

    d_in: int = 2
    hidden: int = 6
    weight_decay: float = 1e-2

    @property
    def num_params(self) -> int:
        """int: ``P``, the length of ``theta``."""
        return self.hidden * (self.d_in + 2) + 1

    def forward(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """Predictions ``f(x_n)`` for the rows of ``X`` (shape ``(N, d_in)``); returns ``(N,)``."""
        h, d = self.hidden, self.d_in
        W1 = theta[: h * d].reshape(h, d)
        b1 = theta[h * d : h * d + h]
        w2 = theta[h * d + h : h * d + 2 * h]
        return torch.tanh(X @ W1.T + b1) @ w2 + theta[-1]

    def loss(self, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The objective ``L(theta)`` (mean squared error plus weight decay), a scalar."""
        mse = ((self.forward(theta, X) - y) ** 2).mean()
        return mse + 0.5 * self.weight_decay * (theta**2).sum()

    def hidden_units(self, w: torch.Tensor) -> torch.Tensor:
        """The hidden units of one network as rows ``(c_j, d_j, a_j)``.

        Writing the model as ``f(x) = sum_j a_j tanh(c_j^T x + d_j) + a_0``, row ``j`` holds unit
        ``j``'s input weights ``c_j`` (a row of ``W1``), its bias ``d_j`` (an entry of ``b1``) and
        its output weight ``a_j`` (an entry of ``w2``). The output bias ``a_0 = b2`` is not a unit.

        Args:
            w: One network's parameters, shape ``(P,)``.

        Returns:
            torch.Tensor: Shape ``(hidden, d_in + 2)``.
        """
        h, d = self.hidden, self.d_in
        W1 = w[: h * d].reshape(h, d)
        return torch.cat([W1, w[h * d : h * d + h, None], w[h * d + h : h * d + 2 * h, None]], 1)

    def permute_hidden_units(
        self, w: torch.Tensor, perm: torch.Tensor, signs: torch.Tensor
    ) -> torch.Tensor:
        """Apply a symmetry of the network: reorder the hidden units and flip their signs.

        Unit ``i`` of the result is ``signs[i]`` times unit ``perm[i]`` of ``w``: ``(c_i, d_i,
        a_i) <- s_i (c_{perm[i]}, d_{perm[i]}, a_{perm[i]})`` with ``s_i = +-1``; ``a_0`` is kept.
        Because ``tanh(-z) = -tanh(z)``, ``a_j tanh(c_j^T x + d_j)`` is unchanged by a sign flip,
        and the sum over units does not depend on their order, so ``f`` is the same function.
        The weight-decay term ``||w||^2`` is unchanged too, hence so is ``L``.

        Args:
            w: One network's parameters, shape ``(P,)``.
            perm: A permutation of ``0, ..., hidden - 1`` (integer tensor of shape ``(hidden,)``).
            signs: Entries ``+1.0`` or ``-1.0``, shape ``(hidden,)``.

        Returns:
            torch.Tensor: The transformed parameters, shape ``(P,)``.
        """
        units = self.hidden_units(w)[perm] * signs[:, None].to(w.dtype)
        h, d = self.hidden, self.d_in
        return torch.cat([units[:, :d].reshape(h * d), units[:, d], units[:, d + 1], w[-1:]])

    def canonical_form(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One representative of ``w``'s orbit under unit permutations and sign flips.

        Each unit's sign is flipped so that its output weight is ``a_j >= 0``, then the units are
        sorted by ``a_j``, largest first (ties broken by the other entries of the unit). Two
        networks related by a symmetry (``permute_hidden_units``) have the same canonical form,
        up to rounding, as long as no two distinct units have (almost) equal ``a_j``.

        Args:
            w: One network's parameters, shape ``(P,)``.

        Returns:
            tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ``(w_canonical, perm, signs)`` with
            ``w_canonical = self.permute_hidden_units(w, perm, signs)``.
        """
        units = self.hidden_units(w)
        flip = torch.where(units[:, -1] < 0, -1.0, 1.0).to(w.dtype)
        keys = (units * flip[:, None]).detach().cpu().numpy()
        # np.lexsort sorts by its last key first: -a_j (so a_j descending), then -d_j, -c_j
        perm = torch.as_tensor(np.lexsort([-keys[:, k] for k in range(keys.shape[1])]))
        signs = flip[perm]
        return self.permute_hidden_units(w, perm, signs), perm, signs

    def symmetry_between(
        self, w_from: torch.Tensor, w_to: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The permutation and signs that map ``w_from`` onto ``w_to``, found via canonical forms.

        If ``w_to`` is a symmetric copy of ``w_from``, then
        ``self.permute_hidden_units(w_from, perm, signs)`` equals ``w_to`` (up to rounding); if it
        is not, the result is some symmetry and the two vectors still differ (check it).

        Args:
            w_from: Parameters of shape ``(P,)``.
            w_to: Parameters of shape ``(P,)``.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``perm`` (integers) and ``signs`` (``+-1.0``),
            each of shape ``(hidden,)``.
        """
        _, perm_from, signs_from = self.canonical_form(w_from)
        _, perm_to, signs_to = self.canonical_form(w_to)
        # unit perm_to[i] of w_to = signs_to[i] * signs_from[i] * unit perm_from[i] of w_from
        perm = torch.empty_like(perm_from)
        perm[perm_to] = perm_from
        signs = torch.empty_like(signs_from)
        signs[perm_to] = signs_to * signs_from
        return perm, signs

    def add_zero_units(self, w: torch.Tensor, extra: int = 1) -> torch.Tensor:
        """Embed a network into a wider one by appending hidden units whose weights are all zero.

        A zero unit ``(c_j, d_j, a_j) = (0, 0, 0)`` outputs ``a_j tanh(0) = 0``, so the wider
        network computes the same ``f`` and has the same ``L``. It is also a critical point of the
        wider ``L`` if ``w`` is one of this ``L``: the gradient with respect to ``c_j`` and ``d_j``
        carries the factor ``a_j = 0``, the one with respect to ``a_j`` the factor ``tanh(0) = 0``.

        Args:
            w: Parameters of this network, shape ``(P,)``.
            extra: Number of zero units to append.

        Returns:
            torch.Tensor: Parameters of ``TinyMLP(d_in, hidden + extra, weight_decay)``, shape
            ``((hidden + extra) * (d_in + 2) + 1,)``.
        """
        units = torch.cat([self.hidden_units(w), w.new_zeros(extra, self.d_in + 2)])
        d = self.d_in
        return torch.cat([units[:, :d].reshape(-1), units[:, d], units[:, d + 1], w[-1:]])

    def init(self, seeds, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """One initial ``theta`` per seed: ``W1 ~ N(0, 1/d_in)``, ``w2 ~ N(0, 1/hidden)``, biases 0.

        Args:
            seeds: Iterable of integer seeds, one network each.
            dtype: Floating-point type of the result.

        Returns:
            torch.Tensor: Shape ``(len(seeds), P)``.
        """
        h, d = self.hidden, self.d_in
        std = torch.cat(
            [
                torch.full((h * d,), d**-0.5),
                torch.zeros(h),
                torch.full((h,), h**-0.5),
                torch.zeros(1),
            ]
        ).to(dtype)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        z = torch.stack([torch.randn(self.num_params, generator=g, dtype=dtype) for g in gens])
        return z * std


def make_teacher_data(
    num_samples: int = 64,
    d_in: int = 2,
    teacher_hidden: int = 4,
    noise: float = 0.05,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A small regression dataset labelled by a random "teacher" tanh network plus noise.

    ``X ~ N(0, I)``, ``y = v^T tanh(W X + b) + noise * eps``, then ``y`` is standardized to zero
    mean and unit variance (so predicting the mean gives a squared error of about 1).

    Args:
        num_samples: ``N``, the number of rows of ``X``.
        d_in: Input dimension.
        teacher_hidden: Hidden units of the teacher network.
        noise: Standard deviation of the label noise before standardization.
        seed: Seed of the generator (the dataset is fixed by it).
        dtype: Floating-point type of ``X`` and ``y``.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``X`` of shape ``(N, d_in)``, ``y`` of shape ``(N,)``.
    """
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(num_samples, d_in, generator=gen, dtype=dtype)
    W = 1.5 * torch.randn(teacher_hidden, d_in, generator=gen, dtype=dtype)
    b = 0.5 * torch.randn(teacher_hidden, generator=gen, dtype=dtype)
    v = torch.randn(teacher_hidden, generator=gen, dtype=dtype)
    y = torch.tanh(X @ W.T + b) @ v + noise * torch.randn(num_samples, generator=gen, dtype=dtype)
    return X, (y - y.mean()) / y.std()


def train_adam(loss_fn, theta: torch.Tensor, lr: float, snapshot_epochs) -> dict[int, torch.Tensor]:
    """Full-batch Adam on ``R`` independent networks at once, keeping snapshots.

    Summing the per-network losses gives each network its own gradient (the networks share no
    parameters), and Adam's update is elementwise, so this equals ``R`` separate runs.

    Args:
        loss_fn: ``loss_fn(theta)`` -> scalar, for one network's flat ``theta`` of shape ``(P,)``.
        theta: Initial parameters, shape ``(R, P)``.
        lr: Adam learning rate.
        snapshot_epochs: Epochs (full-batch steps) after which to store a copy of ``theta``; the
            largest one is the number of epochs trained. ``0`` stores the initialization.

    Returns:
        dict[int, torch.Tensor]: Epoch -> parameters of shape ``(R, P)`` at that epoch.
    """
    batched_loss = vmap(loss_fn)
    theta = theta.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=lr)
    snapshots = {}
    num_epochs = max(snapshot_epochs)
    for epoch in range(num_epochs + 1):
        if epoch in snapshot_epochs:
            snapshots[epoch] = theta.detach().clone()
        if epoch == num_epochs:
            break
        optimizer.zero_grad()
        batched_loss(theta).sum().backward()
        optimizer.step()
    return snapshots


def minimize_gradient_norm(
    loss_fn, theta: torch.Tensor, max_iter: int = 300, gtol: float = 1e-10
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drive ``g(theta) = grad L(theta)`` to zero for ``R`` networks (Levenberg-Marquardt).

    Minimizes ``||g(theta)||^2``, whose zeros are *all* critical points of ``L`` (minima, saddles
    and maxima alike). Each iteration solves the damped Gauss-Newton system of ``g = 0``, whose
    Jacobian is the Hessian ``H``: ``(H^2 + gamma I) delta = -H g``, i.e. with ``H = Q diag(lambda)
    Q^T`` (eigenvectors ``q_i`` in the columns of ``Q``), ``delta = -Q diag(lambda / (lambda^2 +
    gamma)) Q^T g``. A step is kept only if it lowers ``||g||``; then the damping ``gamma`` shrinks
    (towards Newton's step ``-H^{-1} g``), else ``gamma`` grows (towards a short step along
    ``-H g = -grad (||g||^2 / 2)``). ``gamma`` is measured in units of ``max |lambda|^2``.

    Args:
        loss_fn: ``loss_fn(theta)`` -> scalar, for one network's flat ``theta`` of shape ``(P,)``.
        theta: Starting points, shape ``(R, P)``.
        max_iter: Maximum number of iterations.
        gtol: A network stops once ``||g|| <= gtol``.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: Final ``theta`` of shape ``(R, P)`` and the final
        gradient norms ``||g||`` of shape ``(R,)``.
    """
    batched_grad, batched_hessian = vmap(grad(loss_fn)), vmap(hessian(loss_fn))
    theta = theta.clone()
    g = batched_grad(theta)
    gnorm = torch.linalg.vector_norm(g, dim=1)
    gamma = torch.full_like(gnorm, 1e-2)
    lam = torch.zeros_like(theta)
    Q = torch.zeros(theta.shape + theta.shape[-1:], dtype=theta.dtype)
    stale = torch.ones_like(gnorm, dtype=torch.bool)  # eigen-decomposition needs refreshing
    for _ in range(max_iter):
        active = torch.nonzero(gnorm > gtol).squeeze(1)
        if len(active) == 0:
            break
        refresh = active[stale[active]]
        if len(refresh):
            lam[refresh], Q[refresh] = torch.linalg.eigh(batched_hessian(theta[refresh]))
            stale[refresh] = False
        la, Qa = lam[active], Q[active]
        damping = gamma[active, None] * la.abs().amax(dim=1, keepdim=True) ** 2
        coef = la / (la**2 + damping) * (Qa.transpose(1, 2) @ g[active, :, None]).squeeze(2)
        candidate = theta[active] - (Qa @ coef[:, :, None]).squeeze(2)
        g_new = batched_grad(candidate)
        gnorm_new = torch.linalg.vector_norm(g_new, dim=1)
        ok = gnorm_new < gnorm[active]
        accepted = active[ok]
        theta[accepted], g[accepted], gnorm[accepted] = candidate[ok], g_new[ok], gnorm_new[ok]
        stale[accepted] = True
        gamma[active] = torch.where(ok, gamma[active] / 5, gamma[active] * 3).clamp(1e-16, 1e4)
    return theta, gnorm
