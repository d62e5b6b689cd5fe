"""Mini-batches in practice: data loaders, update timing and the noise of mini-batch gradients.

The training loss is a mean over the ``N`` training examples, ``L(w) = 1/N sum_n l_n(w)``,
with full gradient ``g = 1/N sum_n g_n`` (``g_n = grad l_n``). A mini-batch ``B`` of ``|B|``
examples drawn without replacement gives the unbiased estimate ``g_B = 1/|B| sum_{n in B} g_n``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)


def make_loader(
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A ``DataLoader`` over ``(X, y)`` that fetches each mini-batch with one indexing operation.

    Each epoch (one pass of ``for X_batch, y_batch in loader``) visits a fresh random permutation
    of ``range(N)`` (``shuffle=True``) cut into ``ceil(N / batch_size)`` consecutive batches; the
    last one holds the remaining rows (dropped if ``drop_last``). It iterates like
    ``DataLoader(TensorDataset(X, y), batch_size, shuffle=True, generator=...)``, but hands the
    dataset a list of indices (``BatchSampler`` as sampler, ``batch_size=None``) instead of
    fetching rows one by one and stacking them, which is much faster for small tensors.

    Args:
        X: Inputs, shape ``(N, ...)``.
        y: Targets, shape ``(N, ...)``.
        batch_size: Rows per mini-batch.
        shuffle: Reshuffle before every epoch (otherwise the order is ``0, 1, ..., N - 1``).
        seed: Seed of the CPU generator that draws the permutations.
        drop_last: Drop the last, smaller batch.

    Returns:
        DataLoader: Yields ``(X_batch, y_batch)`` on the device of ``X`` and ``y``.
    """
    indices = range(len(X))
    if shuffle:
        sampler = RandomSampler(indices, generator=torch.Generator().manual_seed(seed))
    else:
        sampler = SequentialSampler(indices)
    return DataLoader(
        TensorDataset(X, y), sampler=BatchSampler(sampler, batch_size, drop_last), batch_size=None
    )


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work (GPU kernels run asynchronously); a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    min_updates: int = 20,
    min_epochs: int = 1,
    warmup: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock time of training epochs and of the single updates inside them.

    An update is ``zero_grad``, forward pass, cross-entropy, ``backward`` and ``optimizer.step``;
    an epoch adds fetching the mini-batches. After ``warmup`` untimed updates, whole epochs run
    until at least ``min_epochs`` epochs and ``min_updates`` updates were timed.

    Args:
        model: Network mapping ``X_batch`` to logits.
        optimizer: Optimizer over ``model.parameters()``.
        loader: Yields ``(X_batch, y_batch)``; see :func:`make_loader`.
        min_updates: Time at least this many updates.
        min_epochs: Time at least this many epochs.
        warmup: Untimed updates first (memory allocation, lazy initialization).

    Returns:
        tuple[np.ndarray, np.ndarray]: Seconds per epoch and seconds per update.
    """
    device = next(model.parameters()).device
    loss_fn = nn.CrossEntropyLoss()

    def update(X_batch, y_batch):
        optimizer.zero_grad()
        loss_fn(model(X_batch), y_batch).backward()
        optimizer.step()

    for _, (X_batch, y_batch) in zip(range(warmup), loader, strict=False):
        update(X_batch, y_batch)
    epoch_times, update_times = [], []
    while len(epoch_times) < min_epochs or len(update_times) < min_updates:
        synchronize(device)
        epoch_start = time.perf_counter()
        for X_batch, y_batch in loader:
            start = time.perf_counter()
            update(X_batch, y_batch)
            synchronize(device)
            update_times.append(time.perf_counter() - start)
        epoch_times.append(time.perf_counter() - epoch_start)
    return np.array(epoch_times), np.array(update_times)


def per_sample_gradients(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradients ``g_n = grad_w l_n(w)`` of every example's cross-entropy, flattened.

    ``l_n(w) = -log softmax(f_w(x_n))_{y_n}``; computed with ``torch.func``
    (``vmap`` over ``grad`` of a one-example loss), so no loop over examples.

    Args:
        model: Network mapping inputs of shape ``(N, ...)`` to logits ``(N, C)``.
        X: Inputs, shape ``(N, ...)``.
        y: Class labels, shape ``(N,)``.

    Returns:
        torch.Tensor: ``G`` of shape ``(N, P)``, row ``n`` is ``g_n`` with the parameters
        concatenated in the order of ``model.named_parameters()``.
    """
    params = {name: p.detach() for name, p in model.named_parameters()}

    def example_loss(p, x, target):
        logits = functional_call(model, p, (x.unsqueeze(0),))
        return nn.functional.cross_entropy(logits, target.unsqueeze(0))

    grads = vmap(grad(example_loss), in_dims=(None, 0, 0))(params, X, y)
    return torch.cat([g.reshape(len(X), -1) for g in grads.values()], dim=1)


def minibatch_gradients(
    G: torch.Tensor, batch_size: int, num_draws: int, seed: int = 0
) -> torch.Tensor:
    """Mini-batch gradients ``g_B = 1/|B| sum_{n in B} g_n`` for random batches ``B``.

    Each batch is ``batch_size`` distinct examples (drawn without replacement, as within one
    shuffled epoch); the draws are independent of each other.

    Args:
        G: Per-example gradients, shape ``(N, P)`` (see :func:`per_sample_gradients`).
        batch_size: ``|B|``, between 1 and ``N``.
        num_draws: Number of random batches.
        seed: Seed of the CPU generator that draws the batches.

    Returns:
        torch.Tensor: Shape ``(num_draws, P)``, one ``g_B`` per row.
    """
    gen = torch.Generator().manual_seed(seed)
    num_samples = len(G)
    weights = torch.zeros(num_draws, num_samples, dtype=G.dtype)
    for row in weights:
        row[torch.randperm(num_samples, generator=gen)[:batch_size]] = 1.0 / batch_size
    return weights.to(G.device) @ G




def time_updates(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    num_updates: int = 20,
    warmup: int = 3,
    seed: int = 0,
) -> np.ndarray:
    """Wall-clock time of single updates on random mini-batches, without whole epochs.

    Each update is ``zero_grad``, forward pass, cross-entropy, ``backward`` and
    ``optimizer.step`` on ``batch_size`` rows of ``(X, y)`` drawn without replacement. The batches
    are drawn before timing starts, so only the update is timed (as in :func:`time_epochs`).

    Args:
        model: Network mapping ``X_batch`` to logits.
        optimizer: Optimizer over ``model.parameters()``.
        X: Inputs, shape ``(N, ...)``.
        y: Class labels, shape ``(N,)``.
        batch_size: ``B``, rows per update (at most ``N``).
        num_updates: Number of timed updates.
        warmup: Untimed updates first.
        seed: Seed of the CPU generator that draws the batches.

    Returns:
        np.ndarray: Seconds per update, shape ``(num_updates,)``.
    """
    device = next(model.parameters()).device
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    batches = [
        torch.randperm(len(X), generator=gen)[:batch_size].to(X.device)
        for _ in range(warmup + num_updates)
    ]
    times = []
    for k, idx in enumerate(batches):
        X_batch, y_batch = X[idx], y[idx]
        synchronize(device)
        start = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model(X_batch), y_batch).backward()
        optimizer.step()
        synchronize(device)
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return np.array(times)


def fit_overhead_and_cost(batch_sizes, seconds, relative: bool = True) -> tuple[float, float]:
    """Least-squares fit of the time per update ``t(B) = a + c B``.

    ``a`` is the fixed cost of one update (it does not depend on the batch size: Python, operator
    launches, the optimizer step) and ``c`` the cost per example. With ``relative=True`` the
    residuals are measured relative to the data, minimizing ``sum_k ((a + c B_k - t_k) / t_k)^2``,
    so that the small times of small batches weigh as much as the large ones; otherwise
    ``sum_k (a + c B_k - t_k)^2``.

    Args:
        batch_sizes: The batch sizes ``B_k``, shape ``(K,)`` with ``K >= 2``.
        seconds: The measured times ``t_k > 0``, shape ``(K,)``.
        relative: Weight each residual by ``1 / t_k``.

    Returns:
        tuple[float, float]: ``(a, c)`` in seconds and seconds per example.
    """
    B = np.asarray(batch_sizes, dtype=float)
    t = np.asarray(seconds, dtype=float)
    A = np.stack([np.ones_like(B), B], axis=1)
    if relative:
        A, t = A / t[:, None], np.ones_like(t)
    (a, c), *_ = np.linalg.lstsq(A, t, rcond=None)
    return float(a), float(c)


def train_to_targets(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    lr: float,
    target_losses,
    max_epochs: int,
    measure=None,
    momentum: float = 0.0,
    check_every: int = 5,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Mini-batch SGD on the cross-entropy, stopping at each of several training losses in turn.

    With decreasing targets ``L_1 > L_2 > ...``: every ``check_every`` updates the loss on the
    whole training set ``L(w)`` is evaluated, and the first
    time ``L(w) < L_k`` the model is measured (``measure(model)``) before training continues
    towards ``L_{k+1}``. So one run gives the model at several stages, each compared at the same
    training loss across runs. Stops after the last target or after ``max_epochs`` epochs.

    Args:
        model: Network mapping ``X`` to logits, trained in place.
        X: Training inputs, shape ``(N, ...)``.
        y: Training labels, shape ``(N,)``.
        batch_size: Mini-batch size ``B`` (``N`` or more: full-batch gradient descent).
        lr: Learning rate.
        target_losses: The targets ``L_k``, in decreasing order.
        max_epochs: Upper bound on the number of epochs.
        measure: ``measure(model) -> dict`` called at each target reached; ``None``: nothing.
        momentum: Momentum coefficient ``mu`` of ``torch.optim.SGD``.
        check_every: Updates between two evaluations of ``L(w)``.
        seed: Seed of the shuffling.

    Returns:
        list[dict[str, float]]: One dict per target reached, in order: ``target``,
        ``train_loss`` (the ``L(w)`` that crossed it), ``num_updates``, ``num_epochs``,
        ``seconds`` (since the start, without the time spent in ``measure``) and the entries of
        ``measure(model)``.
    """
    targets = sorted(target_losses, reverse=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    full = batch_size >= len(X)
    loader = [(X, y)] if full else make_loader(X, y, batch_size, seed=seed)
    loss_fn = nn.CrossEntropyLoss()
    reached, num_updates, measuring = [], 0, 0.0
    start = time.perf_counter()
    for _ in range(max_epochs):
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss_fn(model(X_batch), y_batch).backward()
            optimizer.step()
            num_updates += 1
            if num_updates % check_every:
                continue
            with torch.no_grad():
                train_loss = loss_fn(model(X), y).item()
            if not np.isfinite(train_loss):
                return reached
            while len(reached) < len(targets) and train_loss < targets[len(reached)]:
                row = {
                    "target": targets[len(reached)],
                    "train_loss": train_loss,
                    "num_updates": num_updates,
                    "num_epochs": num_updates / len(loader),
                    "seconds": time.perf_counter() - start - measuring,
                }
                tic = time.perf_counter()
                row.update(measure(model) if measure is not None else {})
                measuring += time.perf_counter() - tic
                reached.append(row)
            if len(reached) == len(targets):
                return reached
    return reached
