"""Implementations of the a07_transfer_learning exercises: alternative correct ones and common
mistakes.

``tests/test_a07_implementations.py`` checks that the hidden cases accept the first and reject
the second. A mistake marked ``@breaks("<clause>")`` violates exactly one clause of its
exercise's docstring (the keys of ``Exercise.clauses`` in
``autograder/checks/a07_transfer_learning.py``) and must fail a hidden case covering that clause.

The ``fine_tune`` implementations use this module's own ``replace_head``, ``param_groups``,
``freeze`` and training loops, as a student's use the functions of their notebook.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import nn

from implementations import breaks

# ---------------------------------------------------------------------------------------------
# freeze
# ---------------------------------------------------------------------------------------------


def freeze_requires_grad_(module):
    """Correct: Module.requires_grad_(False), which returns the module."""
    return module.requires_grad_(False)


def freeze_named_loop(module):
    """Correct: a loop over named_parameters setting the attribute."""
    for _, p in module.named_parameters():
        p.requires_grad = False
    return module


def wrong_freeze_only_eval(module):
    """Mistake: calls eval() and believes the parameters are frozen (they still train, and the
    mode changed)."""
    return module.eval()


@breaks("all_params")
def wrong_freeze_weights_only(module):
    """Mistake: freezes the parameters named ``weight`` only; the biases keep training."""
    for name, p in module.named_parameters():
        if name.endswith("weight"):
            p.requires_grad_(False)
    return module


@breaks("all_params")
def wrong_freeze_top_level(module):
    """Mistake: parameters(recurse=False): only the module's own parameters, none of its
    submodules' (a container has none of its own)."""
    for p in module.parameters(recurse=False):
        p.requires_grad_(False)
    return module


@breaks("returns")
def wrong_freeze_returns_none(module):
    """Mistake: freezes in place and returns nothing."""
    for p in module.parameters():
        p.requires_grad_(False)


@breaks("mode")
def wrong_freeze_and_eval(module):
    """Mistake: freezes, and also switches the module to evaluation mode."""
    module.requires_grad_(False)
    return module.eval()


@breaks("unchanged")
def wrong_freeze_resets_running_stats(module):
    """Mistake: freezes, and resets BatchNorm's running statistics ("a fresh start")."""
    module.requires_grad_(False)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    return module


# ---------------------------------------------------------------------------------------------
# replace_head
# ---------------------------------------------------------------------------------------------


def replace_head(model, num_classes):
    """Correct: nn.Linear(...) moved with .to(old.weight) (its device and dtype)."""
    model.head = nn.Linear(model.head.in_features, num_classes).to(model.head.weight)
    return model


def replace_head_setattr(model, num_classes):
    """Correct: the sizes read from the weight's shape, setattr, factory keyword arguments."""
    old = model.head
    setattr(model, "head", nn.Linear(old.weight.shape[1], num_classes, bias=True,  # noqa: B010
                                     dtype=old.weight.dtype, device=old.weight.device))
    return model


@breaks("shape")
def wrong_head_keeps_out_features(model, num_classes):
    """Mistake: a new head with the old number of outputs."""
    old = model.head
    model.head = nn.Linear(old.in_features, old.out_features).to(old.weight)
    return model


@breaks("in_features")
def wrong_head_fixed_128(model, num_classes):
    """Mistake: in_features hard-coded to SmallCNN's 128."""
    model.head = nn.Linear(128, num_classes).to(model.head.weight)
    return model


@breaks("bias")
def wrong_head_no_bias(model, num_classes):
    """Mistake: a head without a bias."""
    model.head = nn.Linear(model.head.in_features, num_classes, bias=False).to(model.head.weight)
    return model


@breaks("dtype_device")
def wrong_head_float32(model, num_classes):
    """Mistake: the new head in the default dtype (float32), whatever the model's."""
    model.head = nn.Linear(model.head.in_features, num_classes)
    return model


@breaks("trainable")
def wrong_head_copies_requires_grad(model, num_classes):
    """Mistake: copies the old head's requires_grad flags (a frozen model gets a frozen head)."""
    old = model.head
    new = nn.Linear(old.in_features, num_classes).to(old.weight)
    new.weight.requires_grad_(old.weight.requires_grad)
    new.bias.requires_grad_(old.bias.requires_grad)
    model.head = new
    return model


@breaks("fresh")
def wrong_head_skips_same_size(model, num_classes):
    """Mistake: keeps the old head when it already has num_classes outputs."""
    if model.head.out_features != num_classes:
        model.head = nn.Linear(model.head.in_features, num_classes).to(model.head.weight)
    return model


@breaks("rest_untouched")
def wrong_head_resets_model(model, num_classes):
    """Mistake: re-initializes every layer of the model along with the head."""
    model.head = nn.Linear(model.head.in_features, num_classes).to(model.head.weight)
    for m in model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return model


@breaks("returns")
def wrong_head_returns_head(model, num_classes):
    """Mistake: returns the new head instead of the model."""
    model.head = nn.Linear(model.head.in_features, num_classes).to(model.head.weight)
    return model.head


# ---------------------------------------------------------------------------------------------
# param_groups
# ---------------------------------------------------------------------------------------------


def param_groups(model, backbone_lr, head_lr):
    """Correct: split named_parameters on the ``head.`` prefix."""
    backbone, head = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (head if name.startswith("head.") else backbone).append(p)
    return [{"params": backbone, "lr": backbone_lr}, {"params": head, "lr": head_lr}]


def param_groups_by_identity(model, backbone_lr, head_lr):
    """Correct: the head's parameters by identity, as a set of ids; extra keys are fine."""
    head = [p for p in model.head.parameters() if p.requires_grad]
    ids = {id(p) for p in model.head.parameters()}
    rest = [p for p in model.parameters() if id(p) not in ids and p.requires_grad]
    return [dict(params=rest, lr=backbone_lr, name="backbone"),
            dict(params=head, lr=head_lr, name="head")]


@breaks("frozen_out")
def wrong_groups_keep_frozen(model, backbone_lr, head_lr):
    """Mistake: frozen parameters included (an optimizer would skip them: they are noise)."""
    ids = {id(p) for p in model.head.parameters()}
    return [{"params": [p for p in model.parameters() if id(p) not in ids], "lr": backbone_lr},
            {"params": list(model.head.parameters()), "lr": head_lr}]


@breaks("lrs")
def wrong_groups_swapped_lrs(model, backbone_lr, head_lr):
    """Mistake: the head trained at the backbone's rate and the other way round."""
    groups = param_groups(model, backbone_lr, head_lr)
    groups[0]["lr"], groups[1]["lr"] = head_lr, backbone_lr
    return groups


@breaks("two_groups")
def wrong_groups_head_first(model, backbone_lr, head_lr):
    """Mistake: [head_group, backbone_group]."""
    return param_groups(model, backbone_lr, head_lr)[::-1]


@breaks("partition")
def wrong_groups_backbone_all(model, backbone_lr, head_lr):
    """Mistake: the backbone group is every trainable parameter, the head's included."""
    return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": backbone_lr},
            {"params": [p for p in model.head.parameters() if p.requires_grad], "lr": head_lr}]


@breaks("partition")
def wrong_groups_backbone_attribute(model, backbone_lr, head_lr):
    """Mistake: the backbone group is model.backbone's parameters only (a stem is left out)."""
    return [{"params": [p for p in model.backbone.parameters() if p.requires_grad],
             "lr": backbone_lr},
            {"params": [p for p in model.head.parameters() if p.requires_grad], "lr": head_lr}]


@breaks("lists")
def wrong_groups_generators(model, backbone_lr, head_lr):
    """Mistake: filter objects instead of lists (consumed by the first reader)."""
    ids = {id(p) for p in model.head.parameters()}
    return [{"params": filter(lambda p: p.requires_grad and id(p) not in ids,
                              model.parameters()), "lr": backbone_lr},
            {"params": filter(lambda p: p.requires_grad, model.head.parameters()),
             "lr": head_lr}]


# ---------------------------------------------------------------------------------------------
# train_classifier
# ---------------------------------------------------------------------------------------------


def train_classifier(model, X, y, optimizer, epochs, batch_size, seed):
    """Correct: the reference loop (torch.randperm with a seeded generator)."""
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for index in torch.randperm(len(y), generator=generator).split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[index]), y[index])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        losses.append(total / len(y))
    return losses


def train_classifier_numpy(model, X, y, optimizer, epochs, batch_size, seed):
    """Correct: numpy's generator, slices of the permutation, nn.CrossEntropyLoss, the sum of
    per-sample losses accumulated as a tensor."""
    rng = np.random.default_rng(seed)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    n = X.shape[0]
    out = []
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(n))
        summed = torch.zeros((), dtype=torch.float64)
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=False)
            loss = loss_fn(model(X[index]), y[index])
            loss.backward()
            optimizer.step()
            summed += loss.detach().double() * index.numel()
        out.append(float(summed / n))
    return out


def train_classifier_global_seed(model, X, y, optimizer, epochs, batch_size, seed):
    """Correct: torch.manual_seed(seed), then torch.randperm from the global generator."""
    torch.manual_seed(seed)
    model.train()
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(y))
        sizes, values = [], []
        for index in torch.split(perm, batch_size):
            model.zero_grad()
            loss = F.cross_entropy(model(X[index]), y[index], reduction="sum") / len(index)
            loss.backward()
            optimizer.step()
            sizes.append(len(index))
            values.append(loss.item())
        losses.append(float(np.average(values, weights=sizes)))
    return losses


def _train(model, X, y, optimizer, epochs, batch_size, seed, mistake=""):
    """The reference loop, with one mistake."""
    generator = torch.Generator().manual_seed(0 if mistake == "fixed_seed" else seed)
    if mistake != "no_train_mode":
        model.train()
    n = len(y)
    once = torch.randperm(n, generator=generator)
    losses = []
    for _ in range(epochs):
        if mistake == "global_rng":
            order = torch.randperm(n)
        elif mistake == "no_reshuffle":
            order = once
        elif mistake == "with_replacement":
            order = torch.randint(n, (n,), generator=generator)
        else:
            order = torch.randperm(n, generator=generator)
        batches = list(order.split(batch_size))
        if mistake == "drop_last" and len(batches[-1]) < batch_size and len(batches) > 1:
            batches = batches[:-1]
        total, means = 0.0, []
        for index in batches:
            if mistake != "no_zero_grad":
                optimizer.zero_grad()
            logits = model(X[index])
            if mistake == "nll_on_logits":
                loss = F.nll_loss(logits, y[index])
            else:
                loss = F.cross_entropy(logits, y[index])
            loss.backward()
            optimizer.step()
            if mistake == "tensors":
                total = total + loss.detach() * len(index)
            else:
                total += loss.item() * len(index)
            means.append(loss.item())
        losses.append(float(np.mean(means)) if mistake == "mean_of_means" else total / n)
    return losses


def _train_mistake(mistake, doc, clause=None):
    def impl(model, X, y, optimizer, epochs, batch_size, seed):
        return _train(model, X, y, optimizer, epochs, batch_size, seed, mistake)
    impl.__name__ = impl.__qualname__ = f"wrong_train_{mistake}"
    impl.__doc__ = f"Mistake: {doc}."
    return breaks(clause)(impl) if clause else impl


WRONG_TRAIN = [
    _train_mistake("no_zero_grad", "never zeroes the gradients: they accumulate", "zero_grad"),
    _train_mistake("mean_of_means", "the epoch's loss is the plain mean of the batch means",
                   "per_sample_mean"),
    _train_mistake("global_rng", "torch.randperm from the unseeded global generator", "seed"),
    _train_mistake("fixed_seed", "a generator seeded with 0, whatever seed is", "seed"),
    _train_mistake("no_reshuffle", "one permutation drawn once, the same order every epoch",
                   "each_epoch"),
    _train_mistake("with_replacement", "samples drawn with replacement (torch.randint)"),
    _train_mistake("drop_last", "drops the last, smaller batch", "batches"),
    _train_mistake("no_train_mode", "never calls model.train() (dropout and BatchNorm stay in "
                   "evaluation mode)", "train_mode"),
    _train_mistake("nll_on_logits", "F.nll_loss on the logits (no log-softmax)",
                   "cross_entropy"),
    _train_mistake("tensors", "returns 0-d tensors instead of Python floats", "returns"),
]


# ---------------------------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------------------------


def accuracy_counted(model, X, y):
    """Correct: inference_mode, the count of hits divided by N, every submodule's mode
    restored."""
    modes = [m.training for m in model.modules()]
    model.eval()
    with torch.inference_mode():
        hits = int((model(X).argmax(1) == y).sum())
    for m, mode in zip(model.modules(), modes, strict=True):
        m.training = mode
    return hits / len(y)


def accuracy_decorated(model, X, y):
    """Correct: no_grad as a context, predictions with max, then train(was)."""
    was = model.training
    model.train(False)
    with torch.no_grad():
        _, predicted = model(X).max(dim=1)
    model.train(was)
    return float((predicted == y).double().mean())


def _accuracy(model, X, y, mistake=""):
    was = model.training
    if mistake != "train_mode":
        model.eval()
    with torch.set_grad_enabled(mistake == "tracks_grad"):
        hits = (model(X).argmax(dim=1) == y).float()
    if mistake == "always_train":
        model.train()
    elif mistake != "leaves_eval":
        model.train(was)
    if mistake == "tensor":
        return hits.mean()
    if mistake == "count":
        return hits.sum().item()
    return hits.mean().item()


def _accuracy_mistake(mistake, doc, clause=None):
    def impl(model, X, y):
        return _accuracy(model, X, y, mistake)
    impl.__name__ = impl.__qualname__ = f"wrong_accuracy_{mistake}"
    impl.__doc__ = f"Mistake: {doc}."
    return breaks(clause)(impl) if clause else impl


WRONG_ACCURACY = [
    _accuracy_mistake("leaves_eval", "leaves the model in evaluation mode", "restores"),
    _accuracy_mistake("always_train", "model.train() afterwards, also for a model that was in "
                      "evaluation mode", "restores"),
    _accuracy_mistake("train_mode", "never calls model.eval() (dropout on, batch statistics)",
                      "eval_mode"),
    _accuracy_mistake("tracks_grad", "builds the autograd graph (no torch.no_grad())",
                      "no_grad"),
    _accuracy_mistake("tensor", "returns a 0-d tensor instead of a Python float",
                      "python_float"),
    _accuracy_mistake("count", "returns the number of hits, not the fraction", "fraction"),
]


# ---------------------------------------------------------------------------------------------
# fine_tune (with this module's replace_head, param_groups, train_classifier)
# ---------------------------------------------------------------------------------------------


def freeze(module):
    """Correct helper (the notebook's freeze)."""
    return freeze_requires_grad_(module)


def fine_tune_numpy_loop(model, X, y, seed):
    """Correct: every layer at lr 3e-3 (Adam), the numpy-shuffled loop."""
    torch.manual_seed(seed)
    replace_head(model, 5)
    optimizer = torch.optim.Adam(param_groups(model, 3e-3, 3e-3))
    train_classifier_numpy(model, X, y, optimizer, 10, 10, seed)
    return model


def fine_tune_first_block_frozen(model, X, y, seed):
    """Correct: the first convolution block frozen, the rest at lr 3e-3."""
    torch.manual_seed(seed)
    freeze(model.backbone[0])
    replace_head(model, int(y.max()) + 1)
    optimizer = torch.optim.Adam(param_groups(model, 3e-3, 3e-3))
    train_classifier(model, X, y, optimizer, 10, 10, seed)
    return model


def fine_tune_faster_head(model, X, y, seed):
    """Correct: the head at a higher learning rate than the backbone, batches of 25 (20
    epochs, 40 steps)."""
    torch.manual_seed(seed)
    replace_head(model, 5)
    optimizer = torch.optim.Adam(param_groups(model, backbone_lr=3e-3, head_lr=1e-2))
    train_classifier_global_seed(model, X, y, optimizer, 20, 25, seed)
    return model


@breaks("beats_scratch")
def wrong_fine_tune_from_scratch(model, X, y, seed):
    """Mistake: re-initializes every layer before training: training from scratch."""
    torch.manual_seed(seed)
    for m in model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    replace_head(model, 5)
    optimizer = torch.optim.Adam(param_groups(model, 3e-3, 3e-3))
    train_classifier(model, X, y, optimizer, 10, 10, seed)
    return model


def wrong_fine_tune_linear_probe(model, X, y, seed):
    """Mistake: the whole backbone frozen, only the head trained: the source task's features
    alone do not separate the target digits well enough."""
    torch.manual_seed(seed)
    replace_head(freeze(model), 5)
    optimizer = torch.optim.Adam(param_groups(model, 0.0, 1e-2))
    train_classifier(model, X, y, optimizer, 10, 10, seed)
    return model


@breaks("frozen_identical")
def wrong_fine_tune_freezes_after_training(model, X, y, seed):
    """Mistake: trains every layer, then freezes the backbone ("to keep it"): the frozen
    parameters are no longer the pretrained ones."""
    torch.manual_seed(seed)
    replace_head(model, 5)
    optimizer = torch.optim.Adam(param_groups(model, 3e-3, 3e-3))
    train_classifier(model, X, y, optimizer, 10, 10, seed)
    freeze(model.backbone)
    return model


@breaks("budget")
def wrong_fine_tune_over_budget(model, X, y, seed):
    """Mistake: 30 epochs of batches of 10: 150 optimizer steps, three times the budget."""
    torch.manual_seed(seed)
    replace_head(model, 5)
    optimizer = torch.optim.Adam(param_groups(model, 1e-3, 1e-3))
    train_classifier(model, X, y, optimizer, 30, 10, seed)
    return model


CORRECT = {
    "freeze": [freeze_requires_grad_, freeze_named_loop],
    "replace_head": [replace_head, replace_head_setattr],
    "param_groups": [param_groups, param_groups_by_identity],
    "train_classifier": [train_classifier, train_classifier_numpy, train_classifier_global_seed],
    "accuracy": [accuracy_counted, accuracy_decorated],
    "fine_tune": [fine_tune_numpy_loop, fine_tune_first_block_frozen, fine_tune_faster_head],
}

WRONG = {
    "freeze": [wrong_freeze_only_eval, wrong_freeze_weights_only, wrong_freeze_top_level,
               wrong_freeze_returns_none, wrong_freeze_and_eval,
               wrong_freeze_resets_running_stats],
    "replace_head": [wrong_head_keeps_out_features, wrong_head_fixed_128, wrong_head_no_bias,
                     wrong_head_float32, wrong_head_copies_requires_grad,
                     wrong_head_skips_same_size, wrong_head_resets_model,
                     wrong_head_returns_head],
    "param_groups": [wrong_groups_keep_frozen, wrong_groups_swapped_lrs, wrong_groups_head_first,
                     wrong_groups_backbone_all, wrong_groups_backbone_attribute,
                     wrong_groups_generators],
    "train_classifier": WRONG_TRAIN,
    "accuracy": WRONG_ACCURACY,
    "fine_tune": [wrong_fine_tune_from_scratch, wrong_fine_tune_linear_probe,
                  wrong_fine_tune_freezes_after_training, wrong_fine_tune_over_budget],
}
