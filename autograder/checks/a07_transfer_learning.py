"""Checks of assignment ``a07_transfer_learning``: freezing, a new head, parameter groups, a
training loop, accuracy, and fine-tuning the course's pretrained backbone.

Every exercise works on ``torch.nn`` modules, which cannot cross from the sandbox to the grader.
So each ``call`` builds the case's model itself (from a specification of plain numbers:
:func:`_build`, deterministic, the same in the sandbox, the kit and the oracle), runs the
student's function on it, and returns only data: flags, shapes, indices, losses, and whether
values changed (compared inside the call, before and after).

* ``freeze`` and ``replace_head``: the ``requires_grad`` flags, identities, shapes, dtypes and
  modes after the call, against the oracle's reading of the specification.
* ``param_groups``: the groups' learning rates and their parameters as indices into
  ``list(model.parameters())`` (by identity).
* ``train_classifier``: behaviour, not one random stream. The model
  (:class:`_IndexedMLP`) records, at each forward pass with gradients enabled, the indices of the
  samples in the batch (column 0 of ``X`` is each sample's index; the network reads the other
  columns) and its mode. The checks: every epoch visits each sample once, in batches of
  ``batch_size`` (the last one smaller), in a new order; the same seed gives the same order and
  another seed another one. The oracle predicts the losses where the order cannot matter: with
  ``lr = 0`` each epoch's per-sample mean loss is the cross-entropy of the whole data set (a
  mean of batch means differs when the last batch is smaller), and on a data set of identical
  samples every batch has the same gradient, so the oracle replays the steps (a missing
  ``zero_grad`` or a dropped last batch changes the trajectory).
* ``accuracy``: a model with dropout and batch normalization (its training-mode output
  differs) records ``torch.is_grad_enabled()`` and its mode at each forward pass.
* ``fine_tune``: the call loads the shipped backbone (:func:`wwit.pretrained.load_pretrained`),
  runs the student's ``fine_tune`` at several seeds on ``few_labels(task, 10, seed)`` of the
  target task, counts the optimizer steps (a global step hook of ``torch.optim``), and returns
  the target-test accuracy and which frozen parameters changed. The baseline is the same
  network trained **from scratch** with the reference recipe at the same seeds (averaged over
  three initializations, precomputed in :data:`SCRATCH_ACCURACY`); the student's mean accuracy
  must beat the baseline's mean by :data:`MARGIN` (half the gain the reference fine-tuning
  measured). The hidden seeds are fixed (:data:`FINE_TUNE_SEEDS`), not drawn from the hidden
  seed: the margin is a statistical claim, checked for exactly these seeds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from autograder.checks.core import Case, CheckFailure, Exercise, assert_close
from wwit.pretrained import TARGET_DIGITS, SmallCNN, few_labels, load_pretrained, load_task

#: Lecture 7's helpers run whole training and fine-tuning loops (the kit ships them for the
#: lecture): an answer that calls them does not do the exercise.
LECTURE_TRAINING = ("wwit.l07_transfer", "wwit.l06_regularization.train",
                    "wwit.pretrained.pretrain")
#: Optimizer steps ``fine_tune`` may take in all (the docstring's budget).
MAX_STEPS = 50
#: Labelled images per class of the graded fine-tuning.
PER_CLASS = 10
#: How much the mean target-test accuracy of ``fine_tune`` must beat training from scratch.
#: Measured with the reference solution (Adam, lr 3e-3 on every layer, batches of 10, 10
#: epochs = 50 steps) over the few-label seeds 0..15: fine-tuning 0.913 on average, the same
#: recipe from a random initialization 0.841: a gain of 0.072, of which half is slack.
MARGIN = 0.035
#: Few-label seeds of the hidden fine-tuning case. Fixed, not drawn from the hidden seed: the
#: margin over training from scratch is a statistical claim, checked once for these seeds
#: (``tests/test_a07_implementations.py``: the correct implementations pass, training from
#: scratch fails), and the scratch baseline below is precomputed for them.
FINE_TUNE_SEEDS = tuple(range(101, 113))
#: Target-test accuracy of the reference recipe from a random initialization, per few-label
#: seed: the mean over the initializations ``seed + k * 10**6``, k = 0, 1, 2
#: (:func:`_scratch_accuracy`; a slow test recomputes it).
SCRATCH_ACCURACY = {
    0: 0.8704, 1: 0.787, 101: 0.8463, 102: 0.8037, 103: 0.8426, 104: 0.8556, 105: 0.8148,
    106: 0.8111, 107: 0.913, 108: 0.8778, 109: 0.8741, 110: 0.8833, 111: 0.8481, 112: 0.8426,
}
#: Random initializations averaged in a scratch baseline.
SCRATCH_INITS = 3

# ---------------------------------------------------------------------------------------------
# Models built from a specification (shipped in the kit: the calls need them).
# ---------------------------------------------------------------------------------------------


class _TinyNet(nn.Module):
    """``head(backbone(stem(x)))``: a cheap stand-in for SmallCNN with the same attributes.

    ``backbone`` is Linear -> BatchNorm1d -> ReLU -> Dropout; ``stem`` (optional) a Linear
    before it. Every forward pass appends ``(torch.is_grad_enabled(), self.training)`` to
    ``self.log``.
    """

    def __init__(self, features: int = 6, hidden: int = 8, classes: int = 3,
                 dropout: float = 0.0, stem: bool = False):
        super().__init__()
        self.stem = nn.Linear(features, features) if stem else nn.Identity()
        self.backbone = nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden),
                                      nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(hidden, classes)
        self.log: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append((torch.is_grad_enabled(), self.training))
        return self.head(self.backbone(self.stem(x)))


class _IndexedMLP(nn.Module):
    """An MLP on ``x[:, 1:]`` that records ``x[:, 0]`` (each sample's index) and its mode at
    every forward pass with gradients enabled, in ``self.seen``."""

    def __init__(self, features: int, hidden: int, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, hidden), nn.Tanh())
        self.head = nn.Linear(hidden, classes)
        self.seen: list[tuple[list[int], bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            self.seen.append((x[:, 0].detach().round().long().tolist(), self.training))
        return self.head(self.body(x[:, 1:]))


def _fill(model: nn.Module, seed: int) -> None:
    """Deterministic values for every floating parameter and buffer (numpy, any machine)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                values = rng.uniform(0.5, 2.0, tensor.shape)
            elif name.endswith("running_mean"):
                values = rng.normal(0.0, 0.5, tensor.shape)
            else:
                values = rng.normal(0.0, 1.0 / np.sqrt(max(1, tensor.shape[-1])), tensor.shape)
            tensor.copy_(torch.from_numpy(values))


def _build(spec: dict[str, Any]) -> nn.Module:
    """The model of a case: ``spec`` holds plain numbers and strings only (see the cases)."""
    if spec.get("kind") == "smallcnn":
        model = SmallCNN(spec.get("classes", 5))
    else:
        model = _TinyNet(spec.get("features", 6), spec.get("hidden", 8), spec.get("classes", 3),
                         spec.get("dropout", 0.0), spec.get("stem", False))
    if spec.get("dtype") == "float64":
        model = model.double()
    _fill(model, spec.get("seed", 0))
    model.train(spec.get("mode", "train") == "train")
    for name, p in model.named_parameters():
        if any(name == f or name.startswith(f + ".") for f in spec.get("frozen", ())):
            p.requires_grad_(False)
    return model


def _modes(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


def _snapshot(tensors: Any) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in tensors}


def _same_values(before: dict[str, torch.Tensor], tensors: Any) -> list[str]:
    """Names whose tensor differs from ``before`` (bit for bit), or is missing."""
    now = dict(tensors)
    return [name for name, old in before.items()
            if name not in now or now[name].shape != old.shape
            or not torch.equal(now[name].detach(), old)]


# ---------------------------------------------------------------------------------------------
# freeze
# ---------------------------------------------------------------------------------------------


def _freeze_call(impl: Callable, case: Case) -> dict[str, Any]:
    model = _build(case.data["model"])
    part = case.data.get("target")  # None: the whole model; else an attribute, "backbone"
    target = getattr(model, part) if part else model
    modes = _modes(model)
    params = _snapshot(model.named_parameters())
    buffers = _snapshot(model.named_buffers())
    result = impl(target)
    return {
        "same": result is target,
        "requires_grad": {name: p.requires_grad for name, p in model.named_parameters()},
        "modes_unchanged": _modes(model) == modes,
        "changed": _same_values(params, model.named_parameters())
        + _same_values(buffers, model.named_buffers()),
    }


def _freeze_oracle(case: Case) -> dict[str, Any]:
    model = _build(case.data["model"])
    part = case.data.get("target")
    prefix = f"{part}." if part else ""
    return {"requires_grad": {name: not name.startswith(prefix) and p.requires_grad
                              for name, p in model.named_parameters()}}


def _freeze_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    if not got["same"]:
        raise CheckFailure("freeze must return the module it was given (the same object)")
    wrong = sorted(name for name, flag in expected["requires_grad"].items()
                   if got["requires_grad"].get(name) != flag)
    if wrong:
        still = [n for n in wrong if got["requires_grad"].get(n)]
        if still:
            raise CheckFailure(f"these parameters still have requires_grad = True: {still} "
                               "(every parameter of every submodule: weights and biases)")
        raise CheckFailure(f"these parameters are outside the module given to freeze and must "
                           f"keep requires_grad = True: {wrong}")
    if not got["modes_unchanged"]:
        raise CheckFailure("freeze changed the mode of the module (module.training): freezing "
                           "is about requires_grad only; eval() is something else")
    if got["changed"]:
        raise CheckFailure(f"freeze changed the values of {got['changed']}")


def _freeze_visible() -> list[Case]:
    return [Case("a model in training mode with BatchNorm and dropout",
                 data={"model": {"seed": 70, "dropout": 0.5}}),
            Case("freeze(model.head) only: the backbone stays trainable",
                 data={"model": {"seed": 76}, "target": "head"}),
            Case("a model in evaluation mode stays in evaluation mode",
                 data={"model": {"seed": 77, "mode": "eval", "dropout": 0.2}})]


def _freeze_hidden(rng: np.random.Generator) -> list[Case]:
    seed = int(rng.integers(2**31))
    return [
        Case("a SmallCNN in training mode", data={"model": {"kind": "smallcnn", "seed": seed}},
             covers=("all_params", "returns", "mode", "unchanged")),
        Case("a model in evaluation mode, with a stem", data={"model": {
            "seed": seed + 1, "mode": "eval", "stem": True, "dropout": 0.3}},
            covers=("all_params", "mode", "unchanged")),
        Case("freeze(model.backbone) leaves the head trainable", data={
            "model": {"seed": seed + 2, "dtype": "float64"}, "target": "backbone"},
            covers=("all_params", "returns", "mode")),
    ]


freeze = Exercise(
    name="freeze",
    visible=_freeze_visible,
    hidden=_freeze_hidden,
    oracle=_freeze_oracle,
    compare=_freeze_compare,
    call=_freeze_call,
    clauses={
        "all_params": "Set requires_grad = False on every parameter of module, in every "
                      "submodule (weights, biases, BatchNorm's weight and bias)",
        "returns": "return module itself",
        "mode": "Do not change the mode (module.training of the module and its submodules)",
        "unchanged": "the values of the parameters and buffers stay as they are",
    },
)


# ---------------------------------------------------------------------------------------------
# replace_head
# ---------------------------------------------------------------------------------------------


def _replace_head_call(impl: Callable, case: Case) -> dict[str, Any]:
    model = _build(case.data["model"])
    old = model.head
    others = {n: p for n, p in model.named_parameters() if not n.startswith("head.")}
    values = _snapshot(others.items())
    result = impl(model, case.data["num_classes"])
    head = getattr(model, "head", None)
    got: dict[str, Any] = {
        "same": result is model,
        "head_type": f"{type(head).__module__}.{type(head).__qualname__}",
        "new_object": head is not old,
    }
    if type(head) is not nn.Linear:
        return got
    registered = {id(p) for p in model.parameters()}
    now = {n: p for n, p in model.named_parameters() if not n.startswith("head.")}
    got.update({
        "in_features": head.in_features,
        "out_features": head.out_features,
        "weight_shape": list(head.weight.shape),
        "bias_shape": None if head.bias is None else list(head.bias.shape),
        "dtype": str(head.weight.dtype),
        "device": str(head.weight.device),
        "requires_grad": [p.requires_grad for p in head.parameters()],
        "registered": all(id(p) in registered for p in head.parameters()),
        "others_same_objects": set(now) == set(others)
        and all(now[n] is others[n] for n in others),
        "others_changed": _same_values(values, now.items()),
    })
    model.eval()
    x_shape = (4, 1, 12, 12) if case.data["model"].get("kind") == "smallcnn" else \
        (4, case.data["model"].get("features", 6))
    dtype = torch.float64 if case.data["model"].get("dtype") == "float64" else torch.float32
    with torch.no_grad():
        try:
            got["output_shape"] = list(model(torch.zeros(x_shape, dtype=dtype)).shape)
        except RuntimeError as exc:
            got["output_shape"] = str(exc).splitlines()[0][:200]
    return got


def _replace_head_oracle(case: Case) -> dict[str, Any]:
    model = _build(case.data["model"])
    k = case.data["num_classes"]
    return {"in_features": model.head.in_features, "out_features": k,
            "dtype": str(model.head.weight.dtype), "device": str(model.head.weight.device),
            "output_shape": [4, k]}


def _replace_head_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    if not got["same"]:
        raise CheckFailure("replace_head must return the model it was given (the same object)")
    if got["head_type"] != "torch.nn.modules.linear.Linear":
        raise CheckFailure(f"model.head must be a torch.nn.Linear, got {got['head_type']}")
    if not got["new_object"]:
        raise CheckFailure("model.head is still the old head object: replace it by a new "
                           "nn.Linear (also when num_classes equals its out_features)")
    want = (expected["in_features"], expected["out_features"])
    have = (got["in_features"], got["out_features"])
    if have != want or got["weight_shape"] != [want[1], want[0]]:
        raise CheckFailure(f"expected a new nn.Linear({want[0]}, {want[1]}) (in_features of the "
                           f"old head, num_classes outputs), got nn.Linear({have[0]}, {have[1]}) "
                           f"with a weight of shape {tuple(got['weight_shape'])}")
    if got["bias_shape"] != [want[1]]:
        raise CheckFailure("the new head must have a bias, of shape (num_classes,)")
    if (got["dtype"], got["device"]) != (expected["dtype"], expected["device"]):
        raise CheckFailure(f"the new head must have the old head's dtype and device "
                           f"({expected['dtype']} on {expected['device']}), got {got['dtype']} "
                           f"on {got['device']}")
    if not all(got["requires_grad"]):
        raise CheckFailure("the new head must be trainable (requires_grad = True for its weight "
                           "and bias), even when the old head was frozen")
    if not got["registered"]:
        raise CheckFailure("the new head's parameters are not among model.parameters(): assign "
                           "it as model.head")
    if not got["others_same_objects"] or got["others_changed"]:
        changed = got["others_changed"] or "some of them (replaced by other objects)"
        raise CheckFailure(f"the rest of the model must stay as it was (same parameter objects, "
                           f"same values); changed: {changed}")
    if got["output_shape"] != expected["output_shape"]:
        raise CheckFailure(f"the model's output must have shape {tuple(expected['output_shape'])}"
                           f", got {got['output_shape']}")


def _replace_head_visible() -> list[Case]:
    return [Case("a SmallCNN (128 features) gets a head of 10 classes",
                 data={"model": {"kind": "smallcnn", "seed": 71}, "num_classes": 10}),
            Case("a float64 model: the new head is float64 too",
                 data={"model": {"seed": 78, "hidden": 10, "dtype": "float64"},
                       "num_classes": 4}),
            Case("the old head frozen, 3 classes as before: a new, trainable head",
                 data={"model": {"seed": 79, "frozen": ("head",)}, "num_classes": 3})]


def _replace_head_hidden(rng: np.random.Generator) -> list[Case]:
    seed = int(rng.integers(2**31))
    hidden, k = int(rng.integers(9, 20)), int(rng.integers(4, 8))
    return [
        Case(f"a float64 model of {hidden} features, {k} classes", data={"model": {
            "seed": seed, "hidden": hidden, "dtype": "float64"}, "num_classes": k},
            covers=("shape", "in_features", "bias", "dtype_device", "rest_untouched",
                    "returns")),
        Case("a frozen model (its old head too), with a stem", data={"model": {
            "seed": seed + 1, "hidden": hidden + 3, "stem": True,
            "frozen": ("stem", "backbone", "head")}, "num_classes": 2},
            covers=("trainable", "shape", "in_features", "rest_untouched")),
        Case("as many classes as the old head", data={"model": {"seed": seed + 2, "classes": 3},
                                                      "num_classes": 3},
             covers=("fresh", "shape")),
        Case("a SmallCNN, 7 classes", data={"model": {"kind": "smallcnn", "seed": seed + 3},
                                           "num_classes": 7},
             covers=("shape", "in_features", "rest_untouched", "returns")),
    ]


replace_head = Exercise(
    name="replace_head",
    visible=_replace_head_visible,
    hidden=_replace_head_hidden,
    oracle=_replace_head_oracle,
    compare=_replace_head_compare,
    call=_replace_head_call,
    clauses={
        "shape": "a new torch.nn.Linear(in_features, num_classes)",
        "in_features": "in_features is the old head's in_features",
        "bias": "with a bias",
        "dtype_device": "on the old head's device and with its dtype",
        "trainable": "The new head is trainable (requires_grad = True), even when the old head "
                     "was frozen",
        "fresh": "always a new module, also when num_classes equals the old head's "
                 "out_features",
        "rest_untouched": "Every other parameter of the model stays as it was (the same "
                          "objects, the same values)",
        "returns": "Returns: model itself",
    },
)


# ---------------------------------------------------------------------------------------------
# param_groups
# ---------------------------------------------------------------------------------------------


def _param_groups_call(impl: Callable, case: Case) -> dict[str, Any]:
    model = _build(case.data["model"])
    params = list(model.parameters())
    index = {id(p): i for i, p in enumerate(params)}
    groups = impl(model, case.data["backbone_lr"], case.data["head_lr"])
    if type(groups) is not list:
        return {"type": type(groups).__name__}
    out = []
    for group in groups:
        if type(group) is not dict:
            out.append({"type": type(group).__name__})
            continue
        members = group.get("params")
        out.append({
            "type": "dict",
            "keys": sorted(str(k) for k in group),
            "lr": group.get("lr") if type(group.get("lr")) in (int, float) else None,
            "params_type": type(members).__name__,
            "params": [index.get(id(p), -1) for p in members] if type(members) is list else [],
        })
    return {"type": "list", "groups": out}


def _param_groups_oracle(case: Case) -> dict[str, Any]:
    named = list(_build(case.data["model"]).named_parameters())
    head = [i for i, (n, p) in enumerate(named) if n.startswith("head.") and p.requires_grad]
    backbone = [i for i, (n, p) in enumerate(named)
                if not n.startswith("head.") and p.requires_grad]
    return {"groups": [backbone, head], "names": [n for n, _ in named],
            "frozen": [i for i, (_, p) in enumerate(named) if not p.requires_grad]}


def _param_groups_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    if got["type"] != "list" or len(got["groups"]) != 2:
        size = f" of {len(got['groups'])} groups" if got["type"] == "list" else ""
        raise CheckFailure(f"expected a list of two dicts [backbone_group, head_group], got a "
                           f"{got['type']}{size}")
    names = expected["names"]
    lrs = (case.data["backbone_lr"], case.data["head_lr"])
    for which, group, want, lr in zip(("backbone", "head"), got["groups"], expected["groups"],
                                      lrs, strict=True):
        if group["type"] != "dict" or "params" not in group["keys"] or "lr" not in group["keys"]:
            raise CheckFailure(f"the {which} group must be a dict with the keys 'params' and "
                               f"'lr', got {group.get('keys', group['type'])}")
        if group["params_type"] != "list":
            raise CheckFailure(f"the {which} group's 'params' must be a list of parameters, got "
                               f"a {group['params_type']}")
        mine = group["params"]
        if -1 in mine:
            raise CheckFailure(f"the {which} group holds tensors that are not parameters of "
                               "the model")
        if len(set(mine)) != len(mine):
            raise CheckFailure(f"the {which} group lists a parameter twice")
        frozen = sorted(names[i] for i in set(mine) & set(expected["frozen"]))
        if frozen:
            raise CheckFailure(f"the {which} group holds frozen parameters (requires_grad = "
                               f"False), which must be left out: {frozen}")
        if sorted(mine) != sorted(want):
            other = "head" if which == "backbone" else "backbone"
            if sorted(mine) == sorted(expected["groups"][1 - ("backbone", "head").index(which)]):
                raise CheckFailure(f"the first group must be the backbone's and the second the "
                                   f"head's; the {which} group holds the {other}'s parameters")
            extra = sorted(names[i] for i in set(mine) - set(want))
            missing = sorted(names[i] for i in set(want) - set(mine))
            raise CheckFailure(f"the {which} group must hold exactly "
                               + ("the trainable parameters of model.head" if which == "head"
                                  else "every other trainable parameter of the model")
                               + f"; extra: {extra}, missing: {missing}")
        if group["lr"] is None or group["lr"] != lr:
            raise CheckFailure(f"the {which} group's lr must be {lr} ({which}_lr), got "
                               f"{group['lr']}")


def _param_groups_visible() -> list[Case]:
    return [Case("a SmallCNN, the first block frozen", data={"model": {
        "kind": "smallcnn", "seed": 72, "frozen": ("backbone.0",)},
        "backbone_lr": 1e-4, "head_lr": 1e-2}),
            Case("a stem outside model.backbone: its parameters join the backbone group",
                 data={"model": {"seed": 80, "stem": True}, "backbone_lr": 1e-3,
                       "head_lr": 0.1}),
            Case("the whole head frozen: the head group is empty", data={"model": {
                "seed": 81, "frozen": ("head",)}, "backbone_lr": 0.01, "head_lr": 0.1})]


def _param_groups_hidden(rng: np.random.Generator) -> list[Case]:
    seed = int(rng.integers(2**31))
    lr = float(10.0 ** rng.uniform(-5, -3))
    return [
        Case("every parameter trainable", data={"model": {"seed": seed, "stem": True},
                                                "backbone_lr": lr, "head_lr": 100 * lr},
             covers=("two_groups", "lrs", "partition", "lists")),
        Case("the backbone frozen, the stem trainable", data={"model": {
            "seed": seed + 1, "stem": True, "frozen": ("backbone",)},
            "backbone_lr": 3 * lr, "head_lr": 30 * lr},
            covers=("frozen_out", "partition", "lrs")),
        Case("the head's bias frozen, part of the backbone too", data={"model": {
            "seed": seed + 2, "frozen": ("head.bias", "backbone.1")},
            "backbone_lr": 0.5, "head_lr": 0.05},
            covers=("frozen_out", "two_groups", "lrs", "partition")),
        Case("a SmallCNN, everything trainable", data={"model": {"kind": "smallcnn",
                                                                 "seed": seed + 3},
                                                       "backbone_lr": lr, "head_lr": 10 * lr},
             covers=("partition", "two_groups")),
    ]


param_groups = Exercise(
    name="param_groups",
    visible=_param_groups_visible,
    hidden=_param_groups_hidden,
    oracle=_param_groups_oracle,
    compare=_param_groups_compare,
    call=_param_groups_call,
    clauses={
        "two_groups": "a list of two dicts, [backbone_group, head_group], in this order",
        "lists": "each with the keys 'params' (a list of parameters) and 'lr'",
        "lrs": "backbone_group's lr is backbone_lr and head_group's lr is head_lr",
        "partition": "head_group holds the trainable parameters of model.head and "
                     "backbone_group every other trainable parameter of the model",
        "frozen_out": "Parameters with requires_grad = False are left out of both groups",
    },
)


# ---------------------------------------------------------------------------------------------
# train_classifier
# ---------------------------------------------------------------------------------------------


def _classifier_setup(case: Case) -> tuple[nn.Module, torch.Tensor, torch.Tensor, Any]:
    """The case's model, data and optimizer (float64, deterministic)."""
    d = case.data
    n, features = d["n"], d["features"]
    rng = np.random.default_rng(d["data_seed"])
    if d.get("identical"):
        rows = np.tile(rng.normal(size=(1, features)), (n, 1))
        y = np.full(n, int(rng.integers(d["classes"])))
    else:
        rows = rng.normal(size=(n, features))
        y = rng.integers(d["classes"], size=n)
        y[: d["classes"]] = np.arange(d["classes"])
        rows += 1.5 * np.eye(d["classes"], features)[y]  # separable enough to learn
    X = torch.from_numpy(np.column_stack([np.arange(n, dtype=float), rows]))
    model = _IndexedMLP(features, d["hidden"], d["classes"]).double()
    _fill(model, d["data_seed"] + 1)
    model.eval()  # train_classifier must switch it to training mode
    kind, lr = d["optimizer"]
    if kind == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9 if lr else 0.0)
    return model, X, torch.from_numpy(y).long(), optimizer


def _floats(losses: Any) -> list[float | None] | None:
    """The returned losses, each kept only when it is a Python float."""
    if type(losses) is not list:
        return None
    return [v if type(v) is float else None for v in losses]


def _train_classifier_call(impl: Callable, case: Case) -> dict[str, Any]:
    d = case.data
    runs = []
    for seed in (d["seed"], d["seed"], d["other_seed"]):
        model, X, y, optimizer = _classifier_setup(case)
        losses = impl(model, X, y, optimizer, d["epochs"], d["batch_size"], seed)
        runs.append((model, losses))
    model, losses = runs[0]
    returned = _floats(losses)
    return {
        "type": type(losses).__name__,
        "item_types": sorted({type(v).__name__ for v in losses}) if type(losses) is list else [],
        "losses": returned,
        "batches": [b for b, _ in model.seen],
        "modes": [m for _, m in model.seen],
        "same_seed_same": runs[1][0].seen == model.seen and _floats(runs[1][1]) == returned,
        "other_seed_differs": runs[2][0].seen != model.seen,
        "final": [p.detach().numpy().copy() for p in model.parameters()],
    }


def _train_classifier_oracle(case: Case) -> dict[str, Any]:
    d = case.data
    model, X, y, optimizer = _classifier_setup(case)
    if d["optimizer"][1] == 0.0:
        with torch.no_grad():
            loss = F.cross_entropy(model(X), y).item()
        return {"losses": [loss] * d["epochs"], "final": None}
    if not d.get("identical"):
        return {"losses": None, "final": None}
    n, size = d["n"], d["batch_size"]
    sizes = [size] * (n // size) + ([n % size] if n % size else [])
    model.train()
    losses = []
    for _ in range(d["epochs"]):
        total = 0.0
        for k in sizes:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[:k]), y[:k])
            loss.backward()
            optimizer.step()
            total += loss.item() * k
        losses.append(total / n)
    return {"losses": losses, "final": [p.detach().numpy().copy() for p in model.parameters()]}


def _epochs_of(batches: list[list[int]], n: int, epochs: int) -> list[list[list[int]]]:
    """Split the recorded batches into epochs of n samples (as many as fit)."""
    out, current, count = [], [], 0
    for batch in batches:
        current.append(batch)
        count += len(batch)
        if count >= n:
            out.append(current)
            current, count = [], 0
    if current:
        out.append(current)
    return out


def _train_classifier_compare(got: dict[str, Any], expected: dict[str, Any],
                              case: Case) -> None:
    d = case.data
    n, epochs, size = d["n"], d["epochs"], d["batch_size"]
    if got["type"] != "list" or got["losses"] is None or None in got["losses"]:
        raise CheckFailure(f"train_classifier must return a list of Python floats (loss.item()),"
                           f" got a {got['type']} of {got['item_types']}")
    if len(got["losses"]) != epochs:
        raise CheckFailure(f"expected {epochs} losses (one per epoch), got "
                           f"{len(got['losses'])}")
    if not got["batches"]:
        raise CheckFailure("the model was never called with gradients enabled")
    if not all(got["modes"]):
        raise CheckFailure("the model was called in evaluation mode: train_classifier must "
                           "call model.train() first (the model arrives in eval mode)")
    want_sizes = [size] * (n // size) + ([n % size] if n % size else [])
    split = _epochs_of(got["batches"], n, epochs)
    if len(split) != epochs:
        raise CheckFailure(f"{len(got['batches'])} batches seen; expected {epochs} epochs of "
                           f"{len(want_sizes)} batches of sizes {want_sizes}")
    orders = []
    for k, epoch in enumerate(split):
        seen = sorted(i for batch in epoch for i in batch)
        if seen != list(range(n)):
            raise CheckFailure(f"epoch {k + 1} does not see each of the {n} samples exactly once "
                               f"(each epoch is one pass over a random permutation)")
        if [len(b) for b in epoch] != want_sizes:
            raise CheckFailure(f"epoch {k + 1}: batches of sizes {[len(b) for b in epoch]}, "
                               f"expected {want_sizes} (the last batch is kept, smaller)")
        orders.append([i for batch in epoch for i in batch])
    if epochs >= 2 and all(o == orders[0] for o in orders):
        raise CheckFailure("every epoch visits the samples in the same order: draw a new "
                           "random permutation at each epoch")
    if not got["same_seed_same"]:
        raise CheckFailure("two calls with the same seed gave different orders or losses: draw "
                           "the permutations from a generator seeded with seed")
    if not got["other_seed_differs"]:
        raise CheckFailure("two different seeds gave the same order: the permutations must "
                           "depend on seed")
    losses = np.array(got["losses"])
    if expected["losses"] is not None:
        try:
            assert_close(losses, np.array(expected["losses"]), atol=1e-9, rtol=1e-7)
        except CheckFailure as failure:
            hint = (" (with lr = 0 every epoch's loss is the mean cross-entropy over all the "
                    "samples: weight each batch's mean loss by its size)"
                    if d["optimizer"][1] == 0.0 else
                    " (the cross-entropy of each batch, one optimizer step per batch, after "
                    "zeroing the gradients)")
            raise CheckFailure(f"per-epoch losses: {failure}{hint}") from None
    if expected["final"] is not None:
        for k, (mine, want) in enumerate(zip(got["final"], expected["final"], strict=True)):
            try:
                assert_close(mine, want, atol=1e-9, rtol=1e-7)
            except CheckFailure as failure:
                raise CheckFailure(f"parameter {k} after training: {failure} (one step per "
                                   "batch, after zeroing the gradients)") from None
    if expected["losses"] is None and not losses[-1] < losses[0]:
        raise CheckFailure(f"the loss did not go down on an easy problem: {got['losses']}")


def _classifier_case(label: str, rng_seed: int, n: int, batch_size: int, epochs: int,
                     optimizer: tuple[str, float], identical: bool = False,
                     covers: tuple[str, ...] = ()) -> Case:
    return Case(label, data={"n": n, "features": 4, "hidden": 6, "classes": 3,
                             "data_seed": rng_seed, "identical": identical,
                             "optimizer": optimizer, "epochs": epochs,
                             "batch_size": batch_size, "seed": rng_seed % 1000,
                             "other_seed": rng_seed % 1000 + 1}, covers=covers)


def _train_classifier_visible() -> list[Case]:
    return [
        _classifier_case("SGD with lr = 0: each epoch's loss is the full-data cross-entropy "
                         "(10 samples, batches of 4)", 73, 10, 4, 3, ("sgd", 0.0)),
        _classifier_case("Adam, 24 samples, batches of 8", 74, 24, 8, 5, ("adam", 0.05)),
        _classifier_case("batch_size = 8 larger than N = 5: one batch per epoch (SGD, lr = 0)",
                         76, 5, 8, 3, ("sgd", 0.0)),
    ]


def _train_classifier_hidden(rng: np.random.Generator) -> list[Case]:
    seed = int(rng.integers(2**31))
    return [
        _classifier_case("lr = 0, 23 samples in batches of 5", seed, 23, 5, 3, ("sgd", 0.0),
                         covers=("per_sample_mean", "cross_entropy", "each_epoch", "batches",
                                 "returns", "train_mode", "seed")),
        _classifier_case("identical samples, SGD with momentum, 10 in batches of 4", seed + 1,
                         10, 4, 3, ("sgd", 0.1), identical=True,
                         covers=("zero_grad", "batches", "cross_entropy", "returns")),
        _classifier_case("identical samples, Adam, 7 in batches of 3", seed + 2, 7, 3, 4,
                         ("adam", 0.01), identical=True, covers=("zero_grad", "batches")),
        _classifier_case("Adam, 40 samples in batches of 8", seed + 3, 40, 8, 6,
                         ("adam", 0.05),
                         covers=("each_epoch", "seed", "train_mode", "batches", "returns")),
        _classifier_case("one batch larger than the data set", seed + 4, 6, 10, 3,
                         ("sgd", 0.0), covers=("batches", "per_sample_mean", "returns")),
    ]


train_classifier = Exercise(
    name="train_classifier",
    visible=_train_classifier_visible,
    hidden=_train_classifier_hidden,
    oracle=_train_classifier_oracle,
    compare=_train_classifier_compare,
    call=_train_classifier_call,
    forbidden=LECTURE_TRAINING,
    clauses={
        "train_mode": "Put the model in training mode (model.train()) first",
        "each_epoch": "Each epoch visits every sample exactly once, in a new random order",
        "seed": "the orders come from a random generator seeded with seed (the same seed gives "
                "the same orders and losses)",
        "batches": "consecutive batches of batch_size samples of that order, the last one "
                   "smaller when batch_size does not divide N (it is not dropped)",
        "zero_grad": "zero the gradients, compute the loss, backpropagate, and take one "
                     "optimizer step",
        "cross_entropy": "the mean cross-entropy of the batch "
                         "(torch.nn.functional.cross_entropy)",
        "per_sample_mean": "the mean of the batch losses weighted by the batch sizes",
        "returns": "a list of epochs Python floats",
    },
)


# ---------------------------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------------------------


def _accuracy_call(impl: Callable, case: Case) -> dict[str, Any]:
    model = _build(case.data["model"])
    X, y = (torch.from_numpy(np.array(a)) for a in case.args)
    if case.data["model"].get("dtype") != "float64":
        X = X.float()
    modes = _modes(model)
    buffers = _snapshot(model.named_buffers())
    got = impl(model, X, y)
    return {
        "type": type(got).__name__,
        "value": got if type(got) is float else None,
        "log": list(model.log),
        "modes_restored": _modes(model) == modes,
        "mode_after": model.training,
        "grads_none": all(p.grad is None for p in model.parameters()),
        "buffers_changed": _same_values(buffers, model.named_buffers()),
    }


def _accuracy_oracle(case: Case) -> dict[str, Any]:
    model = _build(case.data["model"]).eval()
    X, y = (torch.from_numpy(np.array(a)) for a in case.args)
    if case.data["model"].get("dtype") != "float64":
        X = X.float()
    with torch.no_grad():
        value = (model(X).argmax(dim=1) == y).double().mean().item()
    return {"value": value, "mode": case.data["model"].get("mode", "train") == "train"}


def _accuracy_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    if got["type"] != "float":
        raise CheckFailure(f"accuracy must return a Python float (.item()), got a {got['type']}")
    if any(grad for grad, _ in got["log"]) or not got["grads_none"]:
        raise CheckFailure("the model was called with gradients enabled: evaluate under "
                           "torch.no_grad()")
    if any(training for _, training in got["log"]):
        raise CheckFailure("the model was called in training mode (dropout active, batch "
                           "statistics): call model.eval() first")
    if got["buffers_changed"]:
        raise CheckFailure(f"the buffers {got['buffers_changed']} changed")
    if not got["modes_restored"]:
        mode = "training" if expected["mode"] else "evaluation"
        raise CheckFailure(f"the model was in {mode} mode and must be left in it (restore "
                           f"model.training afterwards), but model.training is now "
                           f"{got['mode_after']}")
    if abs(got["value"] - expected["value"]) > 1e-6:
        raise CheckFailure(f"expected the accuracy {expected['value']!r}, got {got['value']!r}")


def _accuracy_case(label: str, seed: int, n: int, model: dict[str, Any],
                   covers: tuple[str, ...] = ()) -> Case:
    """Labels that the evaluation-mode model gets right about 70% of the time."""
    rng = np.random.default_rng(seed)
    spec = {"seed": seed, "features": 5, "hidden": 16, "classes": 4, **model}
    float64 = spec.get("dtype") == "float64"
    X = rng.normal(size=(n, spec["features"])) * 2
    net = _build({**spec, "mode": "eval"})
    with torch.no_grad():
        predicted = net(torch.from_numpy(X if float64 else X.astype(np.float32))).argmax(1)
    y = np.where(rng.uniform(size=n) < 0.7, predicted.numpy(), rng.integers(4, size=n))
    return Case(label, (X if float64 else X.astype(np.float32), y.astype(np.int64)),
                data={"model": spec}, covers=covers)


def _accuracy_visible() -> list[Case]:
    return [_accuracy_case("a model with dropout (p = 0.5), in training mode", 75, 40,
                           {"dropout": 0.5}),
            _accuracy_case("a model in evaluation mode is left in evaluation mode", 76, 30,
                           {"dropout": 0.3, "mode": "eval"}),
            _accuracy_case("BatchNorm without dropout, float64: the running statistics, not the "
                           "batch's", 77, 25, {"dtype": "float64"})]


def _accuracy_hidden(rng: np.random.Generator) -> list[Case]:
    seed = int(rng.integers(2**31))
    return [
        _accuracy_case("dropout 0.5, training mode, 200 rows", seed, 200, {"dropout": 0.5},
                       covers=("fraction", "eval_mode", "restores", "no_grad", "python_float")),
        _accuracy_case("BatchNorm only (no dropout), training mode, float64", seed + 1, 64,
                       {"dtype": "float64"}, covers=("eval_mode", "fraction", "restores")),
        _accuracy_case("a model already in evaluation mode stays in it", seed + 2, 50,
                       {"dropout": 0.3, "mode": "eval"},
                       covers=("restores", "fraction", "no_grad", "python_float")),
        _accuracy_case("one row", seed + 3, 1, {"dropout": 0.2}, covers=("fraction",)),
    ]


accuracy = Exercise(
    name="accuracy",
    visible=_accuracy_visible,
    hidden=_accuracy_hidden,
    oracle=_accuracy_oracle,
    compare=_accuracy_compare,
    call=_accuracy_call,
    forbidden=("wwit.pretrained.accuracy", "wwit.l04_losses.accuracy",
               "wwit.l05_normalization.accuracy_in_batches", "wwit.digits.evaluate",
               "wwit.l07_transfer", "sklearn.metrics", "torchmetrics"),
    clauses={
        "fraction": "The fraction of the rows of X whose predicted class (the argmax of the "
                    "model's output) equals y",
        "python_float": "as a Python float",
        "eval_mode": "computed in evaluation mode (model.eval(): dropout off, BatchNorm's "
                     "running statistics)",
        "no_grad": "without tracking gradients (torch.no_grad())",
        "restores": "The model is left in the mode it was in",
    },
)



# ---------------------------------------------------------------------------------------------
# fine_tune: the pretrained backbone on the few-label target task
# ---------------------------------------------------------------------------------------------


@functools.cache
def _target_task() -> Any:
    return load_task(TARGET_DIGITS, device="cpu")


def _test_accuracy(model: Any) -> float:
    """Target-test accuracy of what fine_tune returned, in evaluation mode."""
    if not isinstance(model, nn.Module):
        raise CheckFailure(f"fine_tune must return the fine-tuned model, got "
                           f"{type(model).__name__}")
    task = _target_task()
    model.eval()
    with torch.no_grad():
        logits = model(task.X_test)
    if type(logits) is not torch.Tensor or logits.shape != (len(task.y_test), 5):
        raise CheckFailure(f"the fine-tuned model must output (N, 5) logits for the 5 target "
                           f"digits, got {tuple(getattr(logits, 'shape', ()))}")
    return (logits.argmax(dim=1) == task.y_test).double().mean().item()


def _fine_tune_call(impl: Callable, case: Case) -> dict[str, Any]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    runs = []
    try:
        for seed in case.data["seeds"]:
            X, y = few_labels(_target_task(), case.data["per_class"], seed)
            model = load_pretrained(device="cpu")
            pretrained = _snapshot(model.named_parameters())
            steps = [0]

            def count(optimizer, args, kwargs, steps=steps):
                steps[0] += 1

            handle = register_optimizer_step_post_hook(count)
            try:
                result = impl(model, X, y, seed)
            finally:
                handle.remove()
            named = dict(result.named_parameters()) if isinstance(result, nn.Module) else {}
            frozen = sorted(n for n, p in named.items() if not p.requires_grad)
            runs.append({
                "seed": seed,
                "steps": steps[0],
                "frozen": frozen,
                "changed": [n for n in frozen if n in pretrained
                            and not torch.equal(named[n].detach().cpu(), pretrained[n])],
                "accuracy": _test_accuracy(result),
            })
    finally:
        torch.set_num_threads(threads)
    return {"runs": runs}


def _reference_training(model: nn.Module, X: torch.Tensor, y: torch.Tensor, seed: int) -> None:
    """The reference recipe (Adam, lr 3e-3 on every layer, batches of 10, 10 epochs)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(10):
        for index in torch.randperm(len(y), generator=generator).split(10):
            optimizer.zero_grad()
            F.cross_entropy(model(X[index]), y[index]).backward()
            optimizer.step()


@functools.cache
def _scratch_accuracy(seed: int, per_class: int) -> float:
    """The target-test accuracy of the reference recipe from a random initialization, averaged
    over :data:`SCRATCH_INITS` initializations."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X, y = few_labels(_target_task(), per_class, seed)
        accuracies = []
        for k in range(SCRATCH_INITS):
            torch.manual_seed(seed + k * 10**6)
            model = SmallCNN(len(TARGET_DIGITS))
            _reference_training(model, X, y, seed)
            accuracies.append(_test_accuracy(model))
        return float(np.mean(accuracies))
    finally:
        torch.set_num_threads(threads)


def _fine_tune_oracle(case: Case) -> dict[str, Any]:
    if not case.data.get("beats_scratch", True):  # one seed: too noisy for the margin
        return {"scratch": None, "threshold": None}
    per_class = case.data["per_class"]
    scratch = [SCRATCH_ACCURACY[s] if per_class == PER_CLASS and s in SCRATCH_ACCURACY
               else _scratch_accuracy(s, per_class) for s in case.data["seeds"]]
    return {"scratch": scratch, "threshold": float(np.mean(scratch)) + MARGIN}


def _fine_tune_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    for run in got["runs"]:
        if run["steps"] > MAX_STEPS:
            raise CheckFailure(f"at seed {run['seed']}, fine_tune took {run['steps']} optimizer "
                               f"steps; the budget is {MAX_STEPS}")
        if run["changed"]:
            raise CheckFailure(f"at seed {run['seed']}, these parameters are frozen "
                               f"(requires_grad = False) but differ from the pretrained "
                               f"ones: {run['changed'][:6]}")
    if expected["threshold"] is None:
        return
    mine = float(np.mean([run["accuracy"] for run in got["runs"]]))
    if mine < expected["threshold"]:
        each = ", ".join(f"{run['accuracy']:.3f}" for run in got["runs"])
        raise CheckFailure(
            f"mean target-test accuracy {mine:.3f} over {len(got['runs'])} seeds ({each}); "
            f"training the same network from scratch reaches {np.mean(expected['scratch']):.3f}"
            f" and fine-tuning must reach at least {expected['threshold']:.3f}: start from the "
            "pretrained backbone, and see the notebook for a recipe that works")


def _fine_tune_visible() -> list[Case]:
    # The accuracy bar is a claim about a mean over seeds: the one-seed cases check the step
    # budget and the frozen parameters only.
    return [Case("10 labels per class, seeds 0 and 1: the mean accuracy beats training from "
                 "scratch", data={"seeds": [0, 1], "per_class": PER_CLASS}),
            Case("seed 2 alone: at most 50 optimizer steps in all (no accuracy bar for one "
                 "seed)", data={"seeds": [2], "per_class": PER_CLASS, "beats_scratch": False}),
            Case("seed 3 alone: frozen parameters stay bit-identical to the pretrained ones "
                 "(no accuracy bar for one seed)",
                 data={"seeds": [3], "per_class": PER_CLASS, "beats_scratch": False})]


def _fine_tune_hidden(rng: np.random.Generator) -> list[Case]:
    return [Case(f"10 labels per class, {len(FINE_TUNE_SEEDS)} seeds",
                 data={"seeds": list(FINE_TUNE_SEEDS), "per_class": PER_CLASS},
                 covers=("frozen_identical", "beats_scratch", "budget"))]


fine_tune = Exercise(
    name="fine_tune",
    visible=_fine_tune_visible,
    hidden=_fine_tune_hidden,
    oracle=_fine_tune_oracle,
    compare=_fine_tune_compare,
    call=_fine_tune_call,
    forbidden=LECTURE_TRAINING,
    clauses={
        "frozen_identical": "Every parameter that is frozen (requires_grad = False) when "
                            "fine_tune returns must be bit-identical to its pretrained value",
        "beats_scratch": "must beat training the same network from scratch",
        "budget": "at most 50 optimizer steps (calls of optimizer.step()) in all",
    },
)

#: Every exercise of the assignment, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex for ex in (freeze, replace_head, param_groups, train_classifier, accuracy,
                           fine_tune)
}
