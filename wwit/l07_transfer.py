"""Lecture 7: transfer learning with the course's pretrained backbone (:mod:`wwit.pretrained`).

The backbone, the tasks and :func:`wwit.pretrained.accuracy` live in :mod:`wwit.pretrained`; this
module holds what several cells of the lecture share: the pooled features of each block, a
nearest-class-mean and a logistic-regression probe (what transfers), the network as it was before
pretraining (the control), one training run of each way to use the backbone on the target task
(:func:`finetune_run`), and the figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from wwit.pretrained import SEED, SmallCNN, Task, accuracy, few_labels, load_pretrained

#: The ways to use the backbone on the target task (see :func:`finetune_run`).
METHODS = ("scratch", "head", "finetune")
#: Number of convolutional blocks of :class:`wwit.pretrained.SmallCNN`'s backbone.
NUM_BLOCKS = 3
#: Number of target classes (digits 5-9 relabelled 0-4).
NUM_CLASSES = 5


# --------------------------------------------------------------------------------------------
# What transfers: pooled features of every block
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def block_features(model: SmallCNN, X: torch.Tensor) -> list[torch.Tensor]:
    """The globally average-pooled output of each convolutional block of the backbone.

    Block ``l`` outputs ``h^(l)`` of shape ``(N, C_l, H_l, W_l)`` (``C_l = 32, 64, 128``); its
    pooled feature is ``f^(l)_c = 1/(H_l W_l) sum_{i,j} h^(l)_{c,i,j}``, the pooling the backbone
    itself applies after its last block (so ``f^(3)`` *is* the backbone's output). The model runs
    in evaluation mode (BatchNorm with its running statistics); its mode is restored.

    Args:
        model: A :class:`wwit.pretrained.SmallCNN`.
        X: Images ``(N, 1, 12, 12)``.

    Returns:
        list[torch.Tensor]: ``NUM_BLOCKS`` tensors ``(N, C_l)``, on the CPU.
    """
    was_training = model.training
    model.eval()
    try:
        out, h = [], X
        for block in model.backbone[:NUM_BLOCKS]:
            h = block(h)
            out.append(h.mean(dim=(2, 3)).cpu())
        return out
    finally:
        model.train(was_training)


def nearest_class_mean_accuracy(
    F_train: torch.Tensor, y_train: torch.Tensor, F_eval: torch.Tensor, y_eval: torch.Tensor
) -> float:
    """Accuracy of the nearest-class-mean classifier on standardized features.

    The features are standardized with the *training* statistics, ``z = (f - mu) / (sigma +
    1e-8)`` (biased ``sigma``); each evaluated example gets the class ``c`` whose training mean
    ``m_c = mean_{n: y_n = c} z_n`` is nearest in Euclidean distance. The probe has no
    hyperparameter and trains nothing: it measures how well the feature space separates the
    classes. Computed in ``float64`` on the CPU.

    Args:
        F_train: Training features ``(N, d)``.
        y_train: Training labels ``(N,)``, every class ``0..C-1`` present.
        F_eval: Features to classify ``(M, d)``.
        y_eval: Their labels ``(M,)``.

    Returns:
        float: Fraction of ``F_eval`` classified right.
    """
    F_train, F_eval = F_train.double().cpu(), F_eval.double().cpu()
    y_train, y_eval = y_train.cpu(), y_eval.cpu()
    mu, sigma = F_train.mean(dim=0), F_train.std(dim=0, unbiased=False)
    z_train, z_eval = (F_train - mu) / (sigma + 1e-8), (F_eval - mu) / (sigma + 1e-8)
    classes = range(int(y_train.max()) + 1)
    means = torch.stack([z_train[y_train == c].mean(dim=0) for c in classes])
    predicted = torch.cdist(z_eval, means).argmin(dim=1)
    return (predicted == y_eval).double().mean().item()


def logistic_probe_accuracy(
    F_train: torch.Tensor,
    y_train: torch.Tensor,
    F_eval: torch.Tensor,
    y_eval: torch.Tensor,
    C: float = 1.0,
) -> float:
    """Accuracy of a trained linear probe: logistic regression on standardized features.

    The features are standardized with the *training* statistics as in
    :func:`nearest_class_mean_accuracy`; scikit-learn's multinomial ``LogisticRegression`` with
    an L2 penalty of inverse strength ``C`` (``lbfgs``, up to 1000 iterations) is fitted on them
    (Alain and Bengio, 2016, call such a classifier on a layer's features a *linear probe*).

    Args:
        F_train: Training features ``(N, d)``.
        y_train: Training labels ``(N,)``, at least two classes present.
        F_eval: Features to classify ``(M, d)``.
        y_eval: Their labels ``(M,)``.
        C: Inverse regularization strength.

    Returns:
        float: Fraction of ``F_eval`` classified right.
    """
    from sklearn.linear_model import LogisticRegression

    F_train, F_eval = F_train.double().cpu().numpy(), F_eval.double().cpu().numpy()
    mu, sigma = F_train.mean(axis=0), F_train.std(axis=0)
    clf = LogisticRegression(C=C, max_iter=1000)
    clf.fit((F_train - mu) / (sigma + 1e-8), y_train.cpu().numpy())
    predicted = clf.predict((F_eval - mu) / (sigma + 1e-8))
    return float((predicted == y_eval.cpu().numpy()).mean())


@torch.no_grad()
def pretraining_init(X: torch.Tensor) -> SmallCNN:
    """The backbone as it was *before* pretraining, its BatchNorm statistics measured on ``X``.

    :func:`wwit.pretrained.pretrain` seeds ``torch.manual_seed(SEED)`` and builds a
    :class:`SmallCNN`; doing the same gives exactly its initial weights. A fresh BatchNorm layer's
    running statistics are ``mean 0, var 1``, which do not normalize anything; for a fair
    comparison with the pretrained network they are replaced by the statistics of ``X`` (one
    forward pass in training mode with ``momentum=None``, a cumulative average). No weight
    changes.

    Args:
        X: Images ``(N, 1, 12, 12)`` whose statistics the BatchNorm layers record.

    Returns:
        SmallCNN: In evaluation mode, on ``X``'s device.
    """
    torch.manual_seed(SEED)
    model = SmallCNN().to(X.device)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    model(X)
    return model.eval()


# --------------------------------------------------------------------------------------------
# Training on the target task
# --------------------------------------------------------------------------------------------


def transfer_model(init: str, seed: int, device: torch.device | str = "cpu") -> SmallCNN:
    """A :class:`SmallCNN` for the five target classes, with a freshly initialized head.

    ``"scratch"``: every parameter from PyTorch's default initialization (seeded, on the CPU, so
    every device starts from the same weights). ``"pretrained"``: the shipped backbone
    (:func:`wwit.pretrained.load_pretrained`) under a new ``nn.Linear(128, 5)`` head initialized
    from ``seed`` (the source head is dropped).

    Args:
        init: ``"scratch"`` or ``"pretrained"``.
        seed: Seed of the random initialization.
        device: Where the parameters live.

    Returns:
        SmallCNN: In training mode.
    """
    if init not in ("scratch", "pretrained"):
        raise ValueError(f"init must be 'scratch' or 'pretrained', got {init!r}")
    torch.manual_seed(seed)
    if init == "scratch":
        return SmallCNN(NUM_CLASSES).to(device).train()
    model = load_pretrained(device="cpu")
    torch.manual_seed(seed)
    model.head = nn.Linear(model.head.in_features, NUM_CLASSES)
    return model.to(device).train()


@dataclass
class Run:
    """One training run on the target task.

    Attributes:
        model: The trained model, in evaluation mode.
        val_acc: Accuracy on the target task's validation split (``nan`` unless requested).
        test_acc: Accuracy on the target task's test split (``nan`` unless requested).
        losses: The training loss of every step.
    """

    model: SmallCNN
    val_acc: float
    test_acc: float
    losses: np.ndarray


def finetune_run(
    method: str,
    task: Task,
    per_class: int,
    seed: int,
    lr: float,
    num_steps: int = 60,
    batch_size: int = 16,
    backbone_lr: float | Sequence[float] | None = None,
    bn_mode: str | None = None,
    val: bool = True,
    test: bool = False,
) -> Run:
    """Train one model of ``method`` on ``per_class`` labelled images per target class.

    The labelled set is ``few_labels(task, per_class, seed)`` (:mod:`wwit.pretrained`), ``N =
    5 per_class`` images. Adam makes ``num_steps`` steps on the cross-entropy of mini-batches of
    ``B = min(batch_size, N)`` images, drawn without replacement and reshuffled (seeded) when
    fewer than ``B`` are left, so every label count gets the same number of updates. The rate of
    every parameter group follows a cosine from its initial value to zero,
    ``lr_t = lr (1 + cos(pi t / num_steps)) / 2`` (``CosineAnnealingLR``), so the final weights
    do not depend on where the last large step happened to land.

    * ``"scratch"``: :func:`transfer_model` ``("scratch")``, every parameter at ``lr``.
    * ``"finetune"``: :func:`transfer_model` ``("pretrained")``, every parameter trained; the
      head at ``lr``, the backbone's blocks at ``backbone_lr`` (one rate for all, or one per
      block, first block first; ``None``: ``lr``): one parameter group per block and one for
      the head, the *discriminative learning rates* of Howard and Ruder (2018). With
      ``bn_mode="train"`` (the default) the backbone's BatchNorm layers normalize with each
      batch's statistics, as ``model.train()`` leaves them; with ``bn_mode="eval"`` the backbone
      stays in evaluation mode, so BatchNorm normalizes with the pretrained running statistics and
      never updates them ("frozen BatchNorm"), while every parameter, BatchNorm's scale and shift
      included, still trains.
    * ``"head"``: :func:`transfer_model` ``("pretrained")`` with the backbone frozen
      (``requires_grad = False``), only the head trained at ``lr``. With ``bn_mode="eval"`` the
      backbone stays in evaluation mode and is a fixed function ``f = backbone(x)``: the features
      of the ``N`` images are computed once and the head is trained on them. With
      ``bn_mode="train"`` the backbone runs in training mode, as ``model.train()`` leaves it:
      every step normalizes with the batch's statistics and overwrites the running statistics
      (``running <- 0.9 running + 0.1 batch``), although no weight moves.

    Args:
        method: One of :data:`METHODS`.
        task: The target task (:func:`wwit.pretrained.load_task`); its device is used.
        per_class: Labelled training images per class.
        seed: Seed of the labelled set, of the new weights and of the batches.
        lr: Learning rate (of the head, for ``"finetune"`` with ``backbone_lr``).
        num_steps: Number of Adam steps.
        batch_size: Mini-batch size (at most ``N``).
        backbone_lr: Learning rate(s) of the backbone's blocks for ``"finetune"``.
        bn_mode: ``"eval"`` or ``"train"``: the backbone's mode while ``"head"`` or
            ``"finetune"`` trains (``None``: ``"eval"`` for ``"head"``, ``"train"`` otherwise;
            ``"scratch"`` accepts only ``"train"``).
        val: Score the validation split (``nan`` otherwise).
        test: Score the test split (for the final comparison only; ``nan`` otherwise).

    Returns:
        Run: The model and its accuracies.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if bn_mode is None:
        bn_mode = "eval" if method == "head" else "train"
    if bn_mode not in ("eval", "train") or (method == "scratch" and bn_mode != "train"):
        raise ValueError(f"bn_mode must be 'eval' or 'train' (scratch: 'train'), got {bn_mode!r}")
    device = task.X_train.device
    X, y = few_labels(task, per_class, seed)
    model = transfer_model("scratch" if method == "scratch" else "pretrained", seed, device)
    if method == "head":
        model.backbone.requires_grad_(False)
        groups = [{"params": model.head.parameters(), "lr": lr}]
    elif method == "finetune":
        rates = lr if backbone_lr is None else backbone_lr
        rates = [float(rates)] * NUM_BLOCKS if isinstance(rates, (int, float)) else list(rates)
        blocks = model.backbone[:NUM_BLOCKS]
        groups = [{"params": b.parameters(), "lr": r} for b, r in zip(blocks, rates, strict=True)]
        groups.append({"params": model.head.parameters(), "lr": lr})
    else:
        groups = [{"params": model.parameters(), "lr": lr}]
    optimizer = torch.optim.Adam(groups)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps)
    if method == "head" and bn_mode == "eval":
        model.backbone.eval()
        with torch.no_grad():
            inputs = model.backbone(X)
        forward: nn.Module = model.head
    else:
        if bn_mode == "eval":
            model.backbone.eval()  # frozen BatchNorm statistics; the parameters still train
        inputs, forward = X, model
    gen = torch.Generator().manual_seed(seed)
    size = min(batch_size, len(y))
    batches: list[torch.Tensor] = []
    losses = []
    for _ in range(num_steps):
        if not batches:
            perm = torch.randperm(len(y), generator=gen)
            batches = list(perm[: len(y) - len(y) % size].split(size))
        idx = batches.pop(0).to(device)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(forward(inputs[idx]), y[idx])
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    model.eval()
    val_acc = accuracy(model, task.X_val, task.y_val) if val else float("nan")
    test_acc = accuracy(model, task.X_test, task.y_test) if test else float("nan")
    return Run(model, val_acc, test_acc, np.array(losses))


@torch.no_grad()
def relative_change(module: nn.Module, reference: nn.Module) -> float:
    """How far ``module``'s parameters are from ``reference``'s, relative to the reference.

    ``||w - w_ref|| / ||w_ref||``, both parameter lists flattened into one vector
    (the two modules must have the same architecture). Buffers (BatchNorm's running statistics)
    are not parameters and do not count.

    Args:
        module: The changed module (for example a fine-tuned backbone).
        reference: The module it started from.

    Returns:
        float: The relative Euclidean distance.
    """
    pairs = list(zip(module.parameters(), reference.parameters(), strict=True))
    diff = torch.cat([(a - b.to(a.device)).reshape(-1) for a, b in pairs])
    ref = torch.cat([b.reshape(-1) for _, b in pairs])
    return (diff.norm() / ref.norm()).item()


def with_source_head(model: SmallCNN, source_model: SmallCNN) -> nn.Sequential:
    """``model``'s (fine-tuned) backbone under ``source_model``'s head: it scores the source task.

    Args:
        model: A model trained on the target task.
        source_model: The pretrained model, whose head maps the backbone's features to the five
            source classes.

    Returns:
        nn.Sequential: ``x -> source_head(backbone(x))``, sharing the modules (no copy).
    """
    return nn.Sequential(model.backbone, source_model.head)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def plot_examples(tasks: Mapping[str, Task], num_images: int = 10) -> plt.Figure:
    """One row of training images per task, titled with their labels.

    Args:
        tasks: Row title -> task.
        num_images: Images per row (the first ones of the training split).

    Returns:
        plt.Figure: The figure.
    """
    fig, axes = plt.subplots(len(tasks), num_images, figsize=(1.1 * num_images, 1.35 * len(tasks)),
                             squeeze=False)
    for row, (name, task) in zip(axes, tasks.items(), strict=True):
        for ax, image, label in zip(row, task.X_train, task.y_train, strict=False):
            ax.imshow(image[0].cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[], title=f"y = {label.item()}")
        row[0].set_ylabel(name, fontsize=9)
    fig.tight_layout()
    return fig


def plot_filters(ax_row: Sequence[plt.Axes], weight: torch.Tensor, title: str) -> None:
    """Draw 3 x 3 convolution filters ``(C, 1, 3, 3)`` as small images, one per axes.

    Each filter is scaled to its own ``max |w|`` (white positive, black negative).

    Args:
        ax_row: One axes per filter drawn (the first ``len(ax_row)`` filters).
        weight: First-layer weights ``(C, 1, 3, 3)``.
        title: Written above the first axes.
    """
    w = weight.detach().cpu()[:, 0]
    for ax, f in zip(ax_row, w, strict=False):
        scale = f.abs().max().item() or 1.0
        ax.imshow(f.numpy(), cmap="gray", vmin=-scale, vmax=scale)
        ax.set(xticks=[], yticks=[])
    ax_row[0].set_title(title, loc="left", fontsize=10)


def plot_probe(ax: plt.Axes, probe: Mapping[tuple[str, str], Sequence[float]]) -> None:
    """Probe accuracy of each block's features: one line per (network, task).

    Args:
        ax: Axes to draw into.
        probe: ``(network, task) -> accuracies of blocks 1..NUM_BLOCKS``; ``network`` is
            ``"pretrained"`` (solid) or anything else (dashed), ``task`` ``"source"`` (blue) or
            ``"target"`` (orange).
    """
    blocks = np.arange(1, NUM_BLOCKS + 1)
    for (network, task), accs in probe.items():
        ax.plot(blocks, accs, "o-" if network == "pretrained" else "s--",
                color="tab:blue" if task == "source" else "tab:orange",
                label=f"{network}, {task} task")
    ax.set_xticks(blocks, [f"block {b}" for b in blocks])
    ax.set(ylabel="nearest-class-mean accuracy (validation)", ylim=(0.4, 1.02),
           title="How well each block's pooled features separate the classes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_label_curves(
    ax: plt.Axes,
    label_counts: Sequence[int],
    results: Mapping[str, np.ndarray],
    styles: Mapping[str, Mapping] | None = None,
) -> None:
    """Test accuracy against labels per class: the mean over seeds (line) and each seed (dots).

    Args:
        ax: Axes to draw into.
        label_counts: The labels per class ``k`` (x axis, logarithmic).
        results: Curve label -> accuracies ``(len(label_counts), num_seeds)``.
        styles: Optional ``plot`` keyword arguments per curve label.
    """
    k = np.asarray(label_counts)
    for name, acc in results.items():
        style = dict((styles or {}).get(name, {}))
        line = ax.plot(k, acc.mean(axis=1), "o-", label=name, **style)[0]
        for j in range(acc.shape[1]):
            ax.plot(k, acc[:, j], ".", color=line.get_color(), alpha=0.4)
    ax.set_xscale("log")
    ax.set_xticks(k, [str(v) for v in k])
    ax.minorticks_off()
    ax.set(xlabel="labelled images per class (target task)", ylabel="test accuracy (target task)")
    ax.grid(alpha=0.3)
    ax.legend()
