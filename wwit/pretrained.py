"""The course's pretrained backbone: a small CNN trained on digits 0-4, shipped with the course.

Transfer learning (lecture 7, assignment a07) needs a network pretrained on a *source task*.
The course trains its own, on real data that ships with scikit-learn (no download): the digits
``0..4`` of scikit-learn's *digits* (8 x 8 grey images). The *target task* is the other half,
digits ``5..9`` relabelled ``0..4``, with few labels per class.

Each 8 x 8 digit sits at a random position (fixed by a seed) on a 12 x 12 black canvas, as
objects in photographs are seldom centred: a network must find the strokes wherever they are.
That skill is what the source task teaches and the target task, with its few labels, cannot.

``python -m wwit.pretrained`` trains the backbone from a fixed seed on the CPU, with one thread
and PyTorch's deterministic algorithms, and writes its ``state_dict``; it reproduces the shipped
file :data:`WEIGHTS` bit for bit (``tests/test_pretrained.py`` checks the file's SHA-256, that the
script reproduces it, and the source-task test accuracy). :func:`load_pretrained` loads it.

Pixels are scaled to ``[0, 1]`` by ``x / 16`` (the pixel range of the data set), the same fixed
map for both tasks, so no statistic of one split leaks into another.
"""

from __future__ import annotations

import argparse
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from wwit.device import get_device

#: The shipped weights: the ``state_dict`` of :class:`SmallCNN` trained by :func:`pretrain`.
WEIGHTS = Path(__file__).with_name("data") / "backbone_digits04.pt"
#: SHA-256 of :data:`WEIGHTS`; ``tests/test_pretrained.py`` checks the file against it.
WEIGHTS_SHA256 = "8b767af9791284f6fe03dab5d53ff2c8c925273491c9aa481a3e8d468d7e5e9e"
#: Digits of the source task (labels ``0..4``) and of the target task (relabelled ``0..4``).
SOURCE_DIGITS = (0, 1, 2, 3, 4)
TARGET_DIGITS = (5, 6, 7, 8, 9)
#: Seed of the splits and of the pretraining.
SEED = 0
#: Pretraining recipe (fixed: changing it changes the shipped file).
PRETRAIN_EPOCHS = 20
PRETRAIN_BATCH_SIZE = 32
PRETRAIN_LR = 3e-3
PRETRAIN_LABEL_SMOOTHING = 0.1
#: Side of the canvas each 8 x 8 digit is placed on.
CANVAS = 12


class SmallCNN(nn.Module):
    """A small CNN for 12 x 12 images: ``logits = head(backbone(x))``.

    ``backbone`` maps ``(N, 1, 12, 12)`` images to ``(N, 128)`` features through three blocks
    ``conv3x3 -> BatchNorm -> ReLU`` (the second and third followed by 2 x 2 max pooling) and a
    global average pooling, which makes the features independent of where the digit sits;
    ``head`` is ``nn.Linear(128, num_classes)``. About 93,000 parameters.

    Args:
        num_classes: Outputs of the head.
    """

    def __init__(self, num_classes: int = len(SOURCE_DIGITS)):
        super().__init__()

        def block(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
            layers = [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
            return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool else []))

        self.backbone = nn.Sequential(
            block(1, 32, pool=False),    # (N, 32, 12, 12): strokes and edges
            block(32, 64, pool=True),    # (N, 64, 6, 6): parts of digits
            block(64, 128, pool=True),   # (N, 128, 3, 3): digits of the source task
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),                # (N, 128)
        )
        self.head = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@dataclass(frozen=True)
class Task:
    """Images and labels of one task, split three ways.

    Attributes:
        X_train, y_train: Training images ``(N, 1, 12, 12)`` ``float32`` in ``[0, 1]`` and
            ``int64`` labels ``0..4``.
        X_val, y_val: Validation split (for every choice of hyperparameter).
        X_test, y_test: Test split (for the final comparisons only).
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


def _images(digits: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, digits)
    relabel = {d: i for i, d in enumerate(digits)}
    return X[keep] / 16.0, np.array([relabel[d] for d in y[keep]])


def place_on_canvas(X: np.ndarray, seed: int, size: int = CANVAS) -> np.ndarray:
    """Put each flattened 8 x 8 image at a uniformly random offset on a black square canvas.

    Args:
        X: Images ``(N, 64)``.
        seed: Seed of the offsets (one pair ``(row, column)`` in ``0..size-8`` per image).
        size: Side of the canvas.

    Returns:
        np.ndarray: ``(N, 1, size, size)``, zero outside the digit.
    """
    offsets = np.random.default_rng(seed).integers(0, size - 8 + 1, size=(len(X), 2))
    out = np.zeros((len(X), 1, size, size))
    for image, (row, col), digit in zip(out, offsets, X.reshape(-1, 8, 8), strict=True):
        image[0, row:row + 8, col:col + 8] = digit
    return out


def load_task(digits: tuple[int, ...] = SOURCE_DIGITS, seed: int = SEED,
              device: torch.device | str | None = None) -> Task:
    """Split the images of ``digits`` 60 / 20 / 20 into train, validation and test (stratified).

    Each image is placed on the canvas (:func:`place_on_canvas`) at an offset fixed by ``seed``
    and the digits of the task, so every call returns the same images.

    Args:
        digits: The digits of the task, relabelled ``0..len(digits)-1`` in this order.
        seed: Seed of the split and of the offsets.
        device: Where the tensors live; ``None`` means :func:`wwit.device.get_device`.

    Returns:
        Task: about 540 / 180 / 180 images for five digits.
    """
    X, y = _images(digits)
    X = place_on_canvas(X, seed=seed * 1000 + sum(digits))
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, test_size=0.4, random_state=seed,
                                                  stratify=y)
    X_val, X_te, y_val, y_te = train_test_split(X_rest, y_rest, test_size=0.5,
                                                random_state=seed, stratify=y_rest)
    device = get_device() if device is None else torch.device(device)

    def to_x(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32, device=device)

    def to_y(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.int64, device=device)

    return Task(to_x(X_tr), to_y(y_tr), to_x(X_val), to_y(y_val), to_x(X_te), to_y(y_te))


def few_labels(task: Task, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``per_class`` training images of each class after a seeded shuffle.

    Args:
        task: The task whose training split is sampled.
        per_class: Labelled images per class (at most the smallest class's count).
        seed: Seed of the shuffle; the sets for growing ``per_class`` are nested.

    Returns:
        tuple: ``(X, y)`` with ``per_class * num_classes`` images, classes interleaved.
    """
    order = np.random.default_rng(seed).permutation(len(task.y_train))
    y = task.y_train.cpu().numpy()[order]
    picks = [order[y == c][:per_class] for c in range(int(y.max()) + 1)]
    if min(map(len, picks)) < per_class:
        raise ValueError(f"per_class={per_class} exceeds the smallest class of the split")
    index = torch.as_tensor(np.stack(picks, axis=1).reshape(-1), device=task.y_train.device)
    return task.X_train[index], task.y_train[index]


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``X`` that ``model`` classifies right, evaluated in evaluation mode.

    The model is left in evaluation mode: call ``model.train()`` before training it again.
    (Assignment a07 asks for an ``accuracy`` that restores the mode it found; this helper of the
    lectures is deliberately not that answer.)
    """
    model.eval()
    return (model(X).argmax(dim=1) == y).float().mean().item()


def pretrain(seed: int = SEED) -> SmallCNN:
    """Train :class:`SmallCNN` on the source task (digits 0-4), reproducibly on the CPU.

    Adam (``lr = PRETRAIN_LR``) on the cross-entropy with label smoothing
    ``PRETRAIN_LABEL_SMOOTHING`` (chosen because, when the recipe was fixed, it made the last
    block's features separate the target digits a little better, in one measurement on the
    target's validation split; Kornblith et al. (2021) found it hurts transfer on ImageNet), on
    mini-batches of ``PRETRAIN_BATCH_SIZE`` for
    ``PRETRAIN_EPOCHS`` epochs of the training split, with one thread and deterministic
    algorithms, so that the same seed gives the same bits.

    Args:
        seed: Seed of the initialization and of the shuffles.

    Returns:
        SmallCNN: The trained model, in evaluation mode, on the CPU.
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        task = load_task(SOURCE_DIGITS, seed=SEED, device="cpu")
        torch.manual_seed(seed)
        model = SmallCNN()
        optimizer = torch.optim.Adam(model.parameters(), lr=PRETRAIN_LR)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(PRETRAIN_EPOCHS):
            model.train()
            for index in torch.randperm(len(task.y_train), generator=generator).split(
                    PRETRAIN_BATCH_SIZE):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(
                    model(task.X_train[index]), task.y_train[index],
                    label_smoothing=PRETRAIN_LABEL_SMOOTHING)
                loss.backward()
                optimizer.step()
        return model.eval()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def state_bytes(model: nn.Module) -> bytes:
    """The bytes ``torch.save`` writes for ``model.state_dict()``."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def load_pretrained(device: torch.device | str | None = None) -> SmallCNN:
    """The shipped backbone with its source-task head, in evaluation mode.

    Args:
        device: Where the parameters live; ``None`` means :func:`wwit.device.get_device`.

    Returns:
        SmallCNN: A fresh copy each call (fine-tuning one never changes another).
    """
    model = SmallCNN()
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return model.to(get_device() if device is None else torch.device(device)).eval()


def main(argv: list[str] | None = None) -> None:
    """``python -m wwit.pretrained [--out FILE]``: retrain the backbone and write its weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS,
                        help=f"where to write the state_dict (default: {WEIGHTS})")
    args = parser.parse_args(argv)
    model = pretrain()
    data = state_bytes(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    task = load_task(SOURCE_DIGITS, device="cpu")
    print(f"wrote {args.out} ({len(data)} bytes, sha256 {sha256(data)}); source-task accuracy: "
          f"validation {accuracy(model, task.X_val, task.y_val):.4f}, "
          f"test {accuracy(model, task.X_test, task.y_test):.4f}")


if __name__ == "__main__":
    main()
