"""The scikit-learn *digits* data set (ships with scikit-learn: no download) and a small MLP on it.

``X`` holds 1797 images of 8 x 8 pixels flattened to 64 features, ``y`` the digit ``0..9``. The
features are standardized with the mean and standard deviation of the *training* split only,
``x' = (x - mu_train) / sigma_train`` (constant pixels keep ``sigma = 1``), so every model in the
course sees inputs of zero mean and unit variance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from wwit.device import get_device


@dataclass(frozen=True)
class DigitsData:
    """Standardized tensors of one train/test split.

    Attributes:
        X_train: ``float32`` features, shape ``(N_train, 64)``.
        y_train: ``int64`` labels in ``0..9``, shape ``(N_train,)``.
        X_test: ``float32`` features, shape ``(N_test, 64)``.
        y_test: ``int64`` labels, shape ``(N_test,)``.
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


def load_digits_split(
    test_size: float = 0.25, seed: int = 0, device: torch.device | str | None = None
) -> DigitsData:
    """Load digits, split it (stratified, fixed seed) and standardize with training statistics.

    Args:
        test_size: Fraction of the 1797 samples held out for testing.
        seed: Seed of the split (the same seed always gives the same split).
        device: Where the tensors live; ``None`` means :func:`wwit.device.get_device`.

    Returns:
        DigitsData: ``X`` as ``float32``, ``y`` as ``int64``, on ``device``.
    """
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    mu, sigma = X_tr.mean(axis=0), X_tr.std(axis=0)
    sigma = np.where(sigma > 0, sigma, 1.0)
    device = get_device() if device is None else torch.device(device)

    def to_x(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((a - mu) / sigma, dtype=torch.float32, device=device)

    def to_y(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.int64, device=device)

    return DigitsData(to_x(X_tr), to_y(y_tr), to_x(X_te), to_y(y_te))


def make_mlp(
    hidden: int = 64,
    seed: int = 0,
    d_in: int = 64,
    num_classes: int = 10,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """The MLP ``logits = W2 relu(W1 x + b1) + b2`` with PyTorch's default initialization.

    It has ``P = hidden (d_in + 1) + num_classes (hidden + 1)`` parameters (4810 for the
    defaults).

    Args:
        hidden: Number of hidden ReLU units.
        seed: Seed of the initialization (``torch.manual_seed`` is called with it).
        d_in: Input features.
        num_classes: Output logits.
        device: Where the parameters live; ``None`` means :func:`wwit.device.get_device`.

    Returns:
        nn.Sequential: ``Linear(d_in, hidden), ReLU(), Linear(hidden, num_classes)``.
    """
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
    return model.to(get_device() if device is None else torch.device(device))


def num_params(model: nn.Module) -> int:
    """Number of trainable parameters ``P`` of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(X, y)``.

    Args:
        model: Maps ``X`` of shape ``(N, 64)`` to logits of shape ``(N, 10)``.
        X: Features.
        y: Labels, shape ``(N,)``.

    Returns:
        tuple[float, float]: ``(loss, accuracy)`` with accuracy in ``[0, 1]``.
    """
    logits = model(X)
    loss = nn.functional.cross_entropy(logits, y).item()
    return loss, (logits.argmax(dim=1) == y).float().mean().item()


def minibatches(num_samples: int, batch_size: int, generator: torch.Generator):
    """Yield index tensors of a random partition of ``range(num_samples)`` into mini-batches.

    Args:
        num_samples: ``N``.
        batch_size: ``B``; the last batch holds ``N mod B`` indices when ``B`` does not divide
            ``N``. ``B >= N`` gives one full batch (in a random order).
        generator: CPU generator that fixes the shuffle.

    Yields:
        torch.Tensor: ``int64`` indices (on the CPU) of one mini-batch.
    """
    perm = torch.randperm(num_samples, generator=generator)
    yield from perm.split(batch_size)


def batch_stream(data: DigitsData, batch_size: int = 64, seed: int = 0):
    """Endless mini-batches ``(X, y)`` of the training split, reshuffled every epoch.

    Args:
        data: Train and test tensors (only the training split is used).
        batch_size: Mini-batch size ``B``.
        seed: Seed of the shuffling.

    Yields:
        tuple[torch.Tensor, torch.Tensor]: ``X`` of shape ``(B, 64)`` and ``y`` of shape ``(B,)``
        (the last batch of an epoch may be smaller).
    """
    gen = torch.Generator().manual_seed(seed)
    while True:
        for idx in minibatches(len(data.y_train), batch_size, gen):
            idx = idx.to(data.X_train.device)
            yield data.X_train[idx], data.y_train[idx]


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: DigitsData,
    num_epochs: int,
    batch_size: int = 64,
    scheduler=None,
    seed: int = 0,
    stop_at_accuracy: float | None = None,
    on_step: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """Mini-batch training with cross-entropy, evaluated on the test split after every epoch.

    Each step draws a mini-batch ``B`` and applies ``optimizer`` to the gradient of
    ``L_B(theta) = 1/|B| sum_{n in B} -log softmax(f_theta(x_n))_{y_n}``; the scheduler (if any)
    is stepped after *every mini-batch*, so schedules are written in steps, not epochs.

    Args:
        model: The network (e.g. from :func:`make_mlp`).
        optimizer: A ``torch.optim`` optimizer over ``model.parameters()``.
        data: Train and test tensors.
        num_epochs: Passes over the training split.
        batch_size: Mini-batch size ``B``.
        scheduler: Optional ``torch.optim.lr_scheduler`` object, stepped once per mini-batch.
        seed: Seed of the shuffling.
        stop_at_accuracy: If given, stop after the first epoch whose test accuracy reaches it.
        on_step: Optional callback receiving every mini-batch loss (e.g. to record it).

    Returns:
        dict[str, np.ndarray]: Per epoch ``train_loss`` (mean over the epoch's mini-batches; NaN
        once the loss is not finite), ``test_loss`` and ``test_acc``; per step ``lr``.
    """
    gen = torch.Generator().manual_seed(seed)
    n = len(data.y_train)
    curves: dict[str, list[float]] = {"train_loss": [], "test_loss": [], "test_acc": [], "lr": []}
    for _ in range(num_epochs):
        model.train()
        total = 0.0
        for idx in minibatches(n, batch_size, gen):
            idx = idx.to(data.X_train.device)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(data.X_train[idx]), data.y_train[idx])
            loss.backward()
            curves["lr"].append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(idx)
            if on_step is not None:
                on_step(loss.item())
        model.eval()
        test_loss, test_acc = evaluate(model, data.X_test, data.y_test)
        curves["train_loss"].append(total / n if np.isfinite(total) else float("nan"))
        curves["test_loss"].append(test_loss)
        curves["test_acc"].append(test_acc)
        if stop_at_accuracy is not None and test_acc >= stop_at_accuracy:
            break
    return {k: np.array(v) for k, v in curves.items()}
