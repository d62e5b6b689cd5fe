"""Checks of assignment ``a05_batchnorm``: standardization, batch and layer normalization.

Oracles are PyTorch in float64: ``torch.nn.BatchNorm1d`` and ``torch.nn.BatchNorm2d`` (with
their running statistics), ``torch.nn.functional.layer_norm``, and autograd through them for
the backward passes.

**The backward exercises are checked on the student's own cache.** A cache is whatever the
student's forward pass chose to keep, so no case can hold one. The test cell passes only the
backward function (``checks.batchnorm_backward.run_visible(batchnorm_backward)``, the shape the
grading engine parses); its ``call`` finds the student's forward function by name in the
namespace the backward function was defined in (``batchnorm_backward.__globals__``: the
notebook's), runs it in training mode on the case, and hands its cache to the backward function.
The comparison checks the forward's output first ("fix the forward first"), then ``dx``,
``dgamma`` and ``dbeta`` against autograd. A missing forward is a :class:`CheckFailure` that
says so; an unattempted forward too, unless the backward function is itself still the stub
(then the test is "not attempted", as every other untouched exercise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import nn

from autograder.checks.core import (
    Case,
    CheckFailure,
    Exercise,
    assert_close,
    call_default,
    check_close,
    require_ndarray,
    unpack,
)

# The numpy exercises: torch would do them for the student.
NUMPY_FORBIDDEN = ("torch",)

# ---------------------------------------------------------------------------------------------
# Shared comparisons (shipped in the kit).
# ---------------------------------------------------------------------------------------------


def _check_close(got: Any, want: np.ndarray, what: str) -> None:
    """``got`` is a float64 array of ``want``'s shape, equal up to a scale-aware tolerance."""
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    check_close(got, want, what, atol=1e-9 * scale, rtol=1e-7)


# ---------------------------------------------------------------------------------------------
# standardize
# ---------------------------------------------------------------------------------------------


def _standardize_case(label: str, rng: np.random.Generator, n: int, m: int,
                      scales: Sequence[float], offsets: Sequence[float], shift: float = 0.0,
                      covers: tuple[str, ...] = (), **kwargs: Any) -> Case:
    scales, offsets = np.asarray(scales, float), np.asarray(offsets, float)
    X_train = rng.normal(size=(n, len(scales))) * scales + offsets
    X_other = rng.normal(size=(m, len(scales))) * scales * 1.5 + offsets + shift * scales
    return Case(label, (X_train, X_other), kwargs, covers=covers)


def _standardize_visible() -> list[Case]:
    rng = np.random.default_rng(50)
    return [
        _standardize_case("6 training rows, 3 features", rng, 6, 3, [1.0, 2.0, 0.5],
                          [0.0, 1.0, -2.0]),
        _standardize_case("features of different scales, a shifted other set", rng, 20, 5,
                          [1.0, 100.0, 0.01], [5.0, -300.0, 0.0], shift=1.0),
        Case("a constant feature (std 0): eps keeps the result finite, here 0",
             (np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]]),
              np.array([[0.0, 2.0], [4.0, 2.0]]))),
    ]


def _standardize_hidden(rng: np.random.Generator) -> list[Case]:
    constant = _standardize_case("a constant feature", rng, 40, 8, [1.0, 3.0, 1.0],
                                 [2.0, 0.0, 0.0], shift=0.5,
                                 covers=("per_feature", "train_stats", "shapes"))
    X_train, X_other = constant.args
    X_train[:, 2], X_other[:, 2] = 0.25, 0.25  # exact in binary: the mean is exact
    return [
        _standardize_case("features of very different scales and offsets", rng, 50, 20,
                          [1.0, 1e3, 1e-2, 5.0], [10.0, -2e3, 0.0, 1.0], shift=0.7,
                          covers=("per_feature", "train_stats", "shapes", "no_mutation")),
        _standardize_case("small training set (N = 5)", rng, 5, 4, [1.0, 2.0], [0.0, 1.0],
                          covers=("biased", "train_stats", "no_mutation")),
        _standardize_case("a feature with a tiny spread (std 1e-4)", rng, 30, 6,
                          [1.0, 1e-4], [0.0, 1e-4], covers=("eps_denominator", "shapes")),
        _standardize_case("eps = 0.5", rng, 25, 10, [1.0, 0.3, 2.0], [0.0, 0.0, 1.0],
                          covers=("eps_denominator", "biased"), eps=0.5),
        _standardize_case("an other set of one row, from another distribution", rng, 30, 1,
                          [1.0, 2.0, 0.5], [0.0, 1.0, -2.0], shift=2.0,
                          covers=("train_stats", "shapes")),
        constant,
    ]


def _standardize_oracle(case: Case) -> tuple[np.ndarray, np.ndarray]:
    X_train, X_other = (torch.tensor(a, dtype=torch.float64) for a in case.args)
    eps = case.kwargs.get("eps", 1e-8)
    mean = X_train.mean(dim=0)
    std = X_train.std(dim=0, correction=0)
    return (((X_train - mean) / (std + eps)).numpy(), ((X_other - mean) / (std + eps)).numpy())


def _standardize_call(impl: Callable, case: Case) -> tuple:
    return unpack(call_default("standardize", impl, case), ("X_train_std", "X_other_std"),
                   "standardize")


def _standardize_compare(got: tuple, expected: tuple, case: Case) -> None:
    for what, mine, want in zip(("X_train_std", "X_other_std"), got, expected, strict=True):
        _check_close(mine, want, what)


standardize = Exercise(
    name="standardize",
    visible=_standardize_visible,
    hidden=_standardize_hidden,
    oracle=_standardize_oracle,
    compare=_standardize_compare,
    call=_standardize_call,
    forbidden=NUMPY_FORBIDDEN + ("sklearn",),
    clauses={
        "per_feature": "For every feature (column) j",
        "biased": "the biased standard deviation (divide by N, as np.std does by default)",
        "eps_denominator": "X_std[:, j] = (X[:, j] - mean_j) / (std_j + eps)",
        "train_stats": "the other set is never standardized with its own statistics",
        "no_mutation": "Must be left unchanged.",
        "shapes": "new float64 arrays of shapes (N, D) and (M, D)",
    },
)


# ---------------------------------------------------------------------------------------------
# Batch normalization forward (numpy, (N, D) and (N, C, H, W))
# ---------------------------------------------------------------------------------------------


def _bn_case(label: str, rng: np.random.Generator, shape: tuple[int, ...], training: bool,
             scale: float = 1.0, covers: tuple[str, ...] = (), **kwargs: Any) -> Case:
    """Inputs of a batch-norm forward: features of different spreads and offsets around
    ``scale``, running statistics away from the batch's (so every mistake shows)."""
    channels = shape[1]
    spread = scale * rng.uniform(0.5, 2.0, channels)
    offset = scale * rng.normal(size=channels) * 2
    view = (1, channels) + (1,) * (len(shape) - 2)
    x = rng.normal(size=shape) * spread.reshape(view) + offset.reshape(view)
    gamma = rng.uniform(0.5, 2.0, channels) * rng.choice([-1.0, 1.0], channels)
    beta = rng.normal(size=channels)
    running_mean = scale * rng.normal(size=channels) * 3
    running_var = scale**2 * rng.uniform(0.2, 4.0, channels)
    return Case(label, (x, gamma, beta, running_mean, running_var, training), kwargs,
                covers=covers)


def _bn_forward_visible() -> list[Case]:
    rng = np.random.default_rng(51)
    return [
        _bn_case("training, N = 8, D = 3", rng, (8, 3), True),
        _bn_case("evaluation, N = 5, D = 4", rng, (5, 4), False),
        _bn_case("training, the smallest batch (N = 2), momentum 0.5: the running variance "
                 "divides by N - 1 = 1", rng, (2, 3), True, momentum=0.5),
    ]


def _bn_forward_hidden(rng: np.random.Generator) -> list[Case]:
    train = ("train_batch_stats", "affine", "running_unbiased", "momentum", "shapes",
             "no_mutation")
    evaluation = ("eval_running", "eval_unchanged", "eval_cache_none", "affine", "shapes",
                  "no_mutation")
    return [
        _bn_case("training, N = 64, D = 5", rng, (64, 5), True, covers=train),
        _bn_case("training, small batch (N = 3), momentum 0.3", rng, (3, 4), True,
                 covers=train, momentum=0.3),
        _bn_case("training, N = 2, D = 1, momentum 0.9", rng, (2, 1), True,
                 covers=("train_batch_stats", "running_unbiased", "momentum"), momentum=0.9),
        _bn_case("training, tiny-variance features (std 1e-3)", rng, (32, 3), True,
                 scale=1e-3, covers=("eps_inside_sqrt", "train_batch_stats", "shapes")),
        _bn_case("training, eps = 0.5", rng, (16, 3), True,
                 covers=("eps_inside_sqrt", "affine"), eps=0.5),
        _bn_case("evaluation, running statistics far from the batch's", rng, (20, 6), False,
                 covers=evaluation, momentum=0.2),
        _bn_case("evaluation, tiny running variance (1e-6), eps = 1e-3", rng, (10, 3), False,
                 scale=1e-3, covers=evaluation + ("eps_inside_sqrt",), eps=1e-3),
    ]


def _bn_oracle(case: Case) -> dict[str, Any]:
    x, gamma, beta, running_mean, running_var, training = case.args
    layer_class = nn.BatchNorm1d if x.ndim == 2 else nn.BatchNorm2d
    layer = layer_class(x.shape[1], eps=case.kwargs.get("eps", 1e-5),
                        momentum=case.kwargs.get("momentum", 0.1)).double()
    with torch.no_grad():
        for tensor, value in ((layer.weight, gamma), (layer.bias, beta),
                              (layer.running_mean, running_mean),
                              (layer.running_var, running_var)):
            tensor.copy_(torch.from_numpy(value))
        layer.train(training)
        out = layer(torch.from_numpy(x.copy()))
    return {"out": out.numpy(), "running_mean": layer.running_mean.numpy().copy(),
            "running_var": layer.running_var.numpy().copy(), "cache_is_none": not training}


def _forward_call(name: str) -> Callable[[Callable, Case], dict[str, Any]]:
    """The call of a batch-norm forward: the result without the cache (the student's own
    format, never compared), and whether the cache is None."""
    def call(impl: Callable, case: Case) -> dict[str, Any]:
        out, running_mean, running_var, cache = unpack(
            call_default(name, impl, case), ("out", "running_mean", "running_var", "cache"),
            name)
        return {"out": out, "running_mean": running_mean, "running_var": running_var,
                "cache_is_none": cache is None}
    return call


def _forward_hint(key: str, training: bool, case: Case) -> str:
    """The usual cause of a mismatch in ``key``, restated from the docstring."""
    if not training:
        return " (in evaluation the running statistics are returned unchanged)" if key != "out" \
            else " (in evaluation normalize with running_mean and running_var)"
    if key == "running_var":
        return (" (the running variance is updated with the unbiased batch variance, divide by "
                "the count - 1, as running = (1 - momentum) * running + momentum * batch_var)")
    if key == "running_mean":
        return " (running = (1 - momentum) * running + momentum * batch_mean: PyTorch's convention)"
    if case.args[0].ndim == 4:
        return (" (statistics per channel over the N, H and W axes: x.reshape(-1, C) without "
                "first moving the channel axis last mixes the channels)")
    return ""


def _bn_forward_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    training = case.args[5]
    mode = "training" if training else "evaluation"
    for key in ("out", "running_mean", "running_var"):
        try:
            _check_close(got[key], expected[key], key)
        except CheckFailure as failure:
            raise CheckFailure(f"in {mode}, {failure}{_forward_hint(key, training, case)}"
                               ) from None
    if not training and not got["cache_is_none"]:
        raise CheckFailure("in evaluation the cache must be None (there is no backward pass)")


def _bn_clauses(axes: str, count: str, stats_shape: str) -> dict[str, str]:
    return {
        "train_batch_stats": ("normalize with the batch mean and the biased batch variance "
                              f"(divide by {count})"),
        "eps_inside_sqrt": "x_hat = (x - mean) / sqrt(var + eps)",
        "affine": "out = gamma * x_hat + beta",
        "momentum": "running = (1 - momentum) * running + momentum * batch_statistic",
        "running_unbiased": ("the running variance is updated with the unbiased batch variance "
                             f"(divide by {count} - 1)"),
        "eval_running": ("normalize with running_mean and running_var instead of the batch "
                         "statistics"),
        "eval_unchanged": "return running_mean and running_var unchanged",
        "eval_cache_none": "return cache = None",
        "no_mutation": "The inputs are never modified",
        "shapes": (f"out is a float64 array of x's shape, running_mean and running_var float64 "
                   f"arrays of shape {stats_shape}"),
    } | ({"per_channel": f"per channel, over the {axes} axes"} if axes else {})


batchnorm_forward = Exercise(
    name="batchnorm_forward",
    visible=_bn_forward_visible,
    hidden=_bn_forward_hidden,
    oracle=_bn_oracle,
    compare=_bn_forward_compare,
    call=_forward_call("batchnorm_forward"),
    forbidden=NUMPY_FORBIDDEN,
    clauses=_bn_clauses("", "N", "(D,)"),
)


def _bn2d_forward_visible() -> list[Case]:
    rng = np.random.default_rng(52)
    return [
        _bn_case("training, x of shape (4, 3, 5, 6)", rng, (4, 3, 5, 6), True),
        _bn_case("evaluation, x of shape (2, 4, 3, 3)", rng, (2, 4, 3, 3), False),
        _bn_case("training, one image (N = 1) of 1 x 3 pixels: statistics over N*H*W = 3 "
                 "values per channel", rng, (1, 2, 1, 3), True, momentum=0.5),
    ]


def _bn2d_forward_hidden(rng: np.random.Generator) -> list[Case]:
    train = ("per_channel", "train_batch_stats", "affine", "running_unbiased", "momentum",
             "shapes", "no_mutation")
    evaluation = ("eval_running", "eval_unchanged", "eval_cache_none", "affine", "shapes",
                  "no_mutation", "per_channel")
    return [
        _bn_case("training, x of shape (8, 5, 4, 3)", rng, (8, 5, 4, 3), True, covers=train),
        _bn_case("training, one image of 2 x 2 pixels (N = 1), momentum 0.3", rng,
                 (1, 3, 2, 2), True, covers=train, momentum=0.3),
        _bn_case("training, N = 2, 3 x 1 pixels, momentum 0.9", rng, (2, 2, 3, 1), True,
                 covers=("train_batch_stats", "running_unbiased", "momentum", "per_channel"),
                 momentum=0.9),
        _bn_case("training, square images with as many channels as rows", rng, (3, 4, 4, 4),
                 True, covers=train),
        _bn_case("training, tiny-variance channels (std 1e-3)", rng, (6, 3, 4, 4), True,
                 scale=1e-3, covers=("eps_inside_sqrt", "train_batch_stats", "shapes")),
        _bn_case("training, eps = 0.5", rng, (4, 2, 3, 3), True,
                 covers=("eps_inside_sqrt", "affine"), eps=0.5),
        _bn_case("evaluation, running statistics far from the batch's", rng, (5, 3, 4, 2),
                 False, covers=evaluation, momentum=0.2),
        _bn_case("evaluation, tiny running variance (1e-6), eps = 1e-3", rng, (3, 2, 2, 5),
                 False, scale=1e-3, covers=evaluation + ("eps_inside_sqrt",), eps=1e-3),
    ]


batchnorm2d_forward = Exercise(
    name="batchnorm2d_forward",
    visible=_bn2d_forward_visible,
    hidden=_bn2d_forward_hidden,
    oracle=_bn_oracle,
    compare=_bn_forward_compare,
    call=_forward_call("batchnorm2d_forward"),
    forbidden=NUMPY_FORBIDDEN,
    clauses=_bn_clauses("N, H and W", "N*H*W", "(C,)"),
)


# ---------------------------------------------------------------------------------------------
# Backward passes, checked on the cache of the student's own forward
# ---------------------------------------------------------------------------------------------


def _backward_case(forward_case: Case, rng: np.random.Generator, label: str | None = None,
                   covers: tuple[str, ...] = (), dout: np.ndarray | None = None) -> Case:
    """A backward case: the forward's inputs (training mode) and an upstream gradient."""
    x = forward_case.args[0]
    dout = rng.normal(size=x.shape) if dout is None else dout
    return Case(label or forward_case.label, (),
                data={"forward_args": tuple(forward_case.args),
                      "forward_kwargs": dict(forward_case.kwargs), "dout": dout},
                covers=covers)


def _backward_call(name: str, forward_name: str) -> Callable[[Callable, Case], dict[str, Any]]:
    """Run the student's own forward (found next to the backward function) in training mode on
    the case, then the backward function on its cache."""
    def call(impl: Callable, case: Case) -> dict[str, Any]:
        dout = case.data["dout"]
        forward = (getattr(impl, "__globals__", None) or {}).get(forward_name)
        if not callable(forward):
            raise CheckFailure(
                f"{name} is checked on the cache that your {forward_name} returns, and no "
                f"{forward_name} is defined in the notebook: run its answer cell first")
        args = tuple(a.copy() if isinstance(a, np.ndarray) else a
                     for a in case.data["forward_args"])
        try:
            result = forward(*args, **case.data["forward_kwargs"])
        except NotImplementedError:
            try:
                impl(dout.copy(), None)  # is the backward pass itself still the stub?
            except NotImplementedError:
                raise
            except Exception:  # noqa: BLE001 - it is written: the forward is what is missing
                pass
            raise CheckFailure(
                f"{name} is checked on the cache that your {forward_name} returns, and "
                f"{forward_name} is not attempted yet: write it first") from None
        names = ("out", "cache") if len(args) == 3 else ("out", "running_mean", "running_var",
                                                          "cache")
        result = unpack(result, names, forward_name)
        dout_in = dout.copy()
        grads = unpack(impl(dout_in, result[-1]), ("dx", "dgamma", "dbeta"), name)
        if not np.array_equal(dout_in, dout):
            raise CheckFailure(f"{name} modified dout in place; work on a copy instead")
        return {"out": result[0], "dx": grads[0], "dgamma": grads[1], "dbeta": grads[2]}
    return call


def _backward_compare(forward_name: str) -> Callable[[Any, Any, Case], None]:
    def compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
        try:
            _check_close(got["out"], expected["out"], "out")
        except CheckFailure as failure:
            raise CheckFailure(f"your {forward_name} gives a wrong output on this case, so its "
                               f"cache cannot be trusted: fix {forward_name} first ({failure})"
                               ) from None
        for key in ("dgamma", "dbeta", "dx"):
            try:
                _check_close(got[key], expected[key], key)
            except CheckFailure as failure:
                hint = ("" if key != "dx" else " (dgamma and dbeta are right: does dx include the "
                        "paths through the batch mean and variance, which depend on every input?)")
                raise CheckFailure(f"{failure}{hint}") from None
    return compare


def _bn_backward_oracle(case: Case) -> dict[str, np.ndarray]:
    x, gamma, beta, running_mean, running_var, _ = case.data["forward_args"]
    kwargs = case.data["forward_kwargs"]
    layer_class = nn.BatchNorm1d if x.ndim == 2 else nn.BatchNorm2d
    layer = layer_class(x.shape[1], eps=kwargs.get("eps", 1e-5),
                        momentum=kwargs.get("momentum", 0.1)).double().train()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    x_t = torch.tensor(x, requires_grad=True)
    out = layer(x_t)
    dx, dgamma, dbeta = torch.autograd.grad(out, (x_t, layer.weight, layer.bias),
                                            torch.from_numpy(case.data["dout"]))
    return {"out": out.detach().numpy(), "dx": dx.numpy(), "dgamma": dgamma.numpy(),
            "dbeta": dbeta.numpy()}


_BACKWARD_TRAIN = ("dx_through_stats", "autograd", "param_grads", "shapes", "no_mutation")


def _bn_backward_visible() -> list[Case]:
    rng = np.random.default_rng(53)
    return [_backward_case(_bn_case("N = 8, D = 3", rng, (8, 3), True), rng),
            _backward_case(_bn_case("N = 16, D = 5, eps = 0.1", rng, (16, 5), True, eps=0.1),
                           rng),
            _backward_case(_bn_case("the smallest batch (N = 2): dx goes through the batch "
                                    "mean and variance", rng, (2, 3), True), rng)]


def _bn_backward_hidden(rng: np.random.Generator) -> list[Case]:
    constant_dout = _bn_case("the same upstream gradient for every row (dx = 0)", rng, (10, 3),
                             True)
    return [
        _backward_case(_bn_case("N = 64, D = 5", rng, (64, 5), True), rng,
                       covers=_BACKWARD_TRAIN),
        _backward_case(_bn_case("small batch (N = 3)", rng, (3, 4), True), rng,
                       covers=("autograd", "dx_through_stats", "param_grads")),
        _backward_case(_bn_case("tiny-variance features (std 1e-3)", rng, (16, 3), True,
                                scale=1e-3), rng, covers=("dx_through_stats", "autograd")),
        _backward_case(_bn_case("eps = 0.5", rng, (12, 2), True, eps=0.5), rng,
                       covers=("autograd", "param_grads", "shapes")),
        _backward_case(constant_dout, rng, covers=("dx_through_stats",),
                       dout=np.tile(rng.normal(size=3), (10, 1))),
    ]


def _backward_clauses(count: str, params_shape: str, over: str) -> dict[str, str]:
    return {
        "autograd": ("dx, dgamma and dbeta are the gradients autograd computes through the "
                     "training-mode forward pass"),
        "dx_through_stats": ("dx includes the paths through the batch mean and the batch "
                             f"variance, which depend on every {over}"),
        "param_grads": (f"dgamma = sum of dout * x_hat and dbeta = sum of dout, over the {count}"),
        "shapes": f"dx is a float64 array of x's shape, dgamma and dbeta of shape {params_shape}",
        "no_mutation": "dout is left unchanged",
    }


batchnorm_backward = Exercise(
    name="batchnorm_backward",
    visible=_bn_backward_visible,
    hidden=_bn_backward_hidden,
    oracle=_bn_backward_oracle,
    compare=_backward_compare("batchnorm_forward"),
    call=_backward_call("batchnorm_backward", "batchnorm_forward"),
    forbidden=NUMPY_FORBIDDEN,
    clauses=_backward_clauses("N rows of the batch", "(D,)", "row of x"),
)


def _bn2d_backward_visible() -> list[Case]:
    rng = np.random.default_rng(54)
    return [_backward_case(_bn_case("x of shape (4, 3, 5, 6)", rng, (4, 3, 5, 6), True), rng),
            _backward_case(_bn_case("x of shape (2, 4, 3, 3), eps = 0.1", rng, (2, 4, 3, 3),
                                    True, eps=0.1), rng),
            _backward_case(_bn_case("one image (N = 1) of 2 x 3 pixels: statistics over H and W"
                                    " only", rng, (1, 2, 2, 3), True), rng)]


def _bn2d_backward_hidden(rng: np.random.Generator) -> list[Case]:
    constant = _bn_case("the same upstream gradient everywhere in a channel (dx = 0)", rng,
                        (3, 2, 4, 4), True)
    return [
        _backward_case(_bn_case("x of shape (8, 5, 4, 3)", rng, (8, 5, 4, 3), True), rng,
                       covers=_BACKWARD_TRAIN),
        _backward_case(_bn_case("one image (N = 1) of 3 x 2 pixels", rng, (1, 3, 3, 2), True),
                       rng, covers=("autograd", "dx_through_stats", "param_grads")),
        _backward_case(_bn_case("square images with as many channels as rows", rng,
                                (3, 4, 4, 4), True), rng, covers=_BACKWARD_TRAIN),
        _backward_case(_bn_case("tiny-variance channels (std 1e-3), eps = 0.5", rng,
                                (4, 3, 3, 3), True, scale=1e-3, eps=0.5), rng,
                       covers=("autograd", "dx_through_stats", "shapes")),
        _backward_case(constant, rng, covers=("dx_through_stats",),
                       dout=np.broadcast_to(rng.normal(size=(1, 2, 1, 1)), (3, 2, 4, 4)).copy()),
    ]


batchnorm2d_backward = Exercise(
    name="batchnorm2d_backward",
    visible=_bn2d_backward_visible,
    hidden=_bn2d_backward_hidden,
    oracle=_bn_backward_oracle,
    compare=_backward_compare("batchnorm2d_forward"),
    call=_backward_call("batchnorm2d_backward", "batchnorm2d_forward"),
    forbidden=NUMPY_FORBIDDEN,
    clauses=_backward_clauses("N, H and W axes", "(C,)", "value of its channel"),
)


# ---------------------------------------------------------------------------------------------
# Layer normalization
# ---------------------------------------------------------------------------------------------


def _ln_case(label: str, rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0,
             covers: tuple[str, ...] = (), **kwargs: Any) -> Case:
    """Rows of different means and spreads (so statistics over the wrong axis show)."""
    d = shape[-1]
    row_shape = shape[:-1] + (1,)
    x = (rng.normal(size=shape) * scale * rng.uniform(0.3, 3.0, row_shape)
         + scale * rng.normal(size=row_shape) * 3 + scale * rng.normal(size=d))
    gamma = rng.uniform(0.5, 2.0, d) * rng.choice([-1.0, 1.0], d)
    beta = rng.normal(size=d)
    return Case(label, (x, gamma, beta), kwargs, covers=covers)


def _ln_forward_visible() -> list[Case]:
    rng = np.random.default_rng(55)
    return [_ln_case("x of shape (6, 4)", rng, (6, 4)),
            _ln_case("x of shape (3, 8)", rng, (3, 8)),
            _ln_case("3-D x of shape (2, 3, 4): each of the 6 rows normalized on its own", rng,
                     (2, 3, 4))]


def _ln_forward_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        _ln_case("x of shape (16, 10)", rng, (16, 10),
                 covers=("last_axis", "biased", "affine", "shapes", "no_mutation")),
        _ln_case("3-D x of shape (4, 5, 6) (a batch of sequences)", rng, (4, 5, 6),
                 covers=("leading_axes", "last_axis", "shapes", "no_mutation")),
        _ln_case("4-D x of shape (2, 3, 2, 5)", rng, (2, 3, 2, 5),
                 covers=("leading_axes", "shapes")),
        _ln_case("one row of 3 features", rng, (1, 3), covers=("biased", "last_axis")),
        _ln_case("tiny-variance rows (std 1e-3)", rng, (5, 7), scale=1e-3,
                 covers=("eps_inside_sqrt",)),
        _ln_case("eps = 0.5", rng, (4, 6), covers=("eps_inside_sqrt", "affine"), eps=0.5),
    ]


def _ln_oracle(case: Case) -> dict[str, np.ndarray]:
    x, gamma, beta = (torch.from_numpy(a.copy()) for a in case.args)
    out = F.layer_norm(x, (x.shape[-1],), gamma, beta, eps=case.kwargs.get("eps", 1e-5))
    return {"out": out.numpy()}


def _ln_forward_call(impl: Callable, case: Case) -> dict[str, Any]:
    result = unpack(call_default("layernorm_forward", impl, case), ("out", "cache"),
                     "layernorm_forward")
    return {"out": result[0]}


def _ln_forward_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    _check_close(got["out"], expected["out"], "out")


layernorm_forward = Exercise(
    name="layernorm_forward",
    visible=_ln_forward_visible,
    hidden=_ln_forward_hidden,
    oracle=_ln_oracle,
    compare=_ln_forward_compare,
    call=_ln_forward_call,
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "last_axis": "normalized over its last axis, each row with its own mean and variance",
        "biased": "the biased variance (divide by D)",
        "eps_inside_sqrt": "x_hat = (x - mean) / sqrt(var + eps)",
        "affine": "out = gamma * x_hat + beta",
        "leading_axes": "x may have any number of leading axes",
        "no_mutation": "x, gamma and beta are left unchanged",
        "shapes": "out is a float64 array of x's shape",
    },
)


def _ln_backward_oracle(case: Case) -> dict[str, np.ndarray]:
    x, gamma, beta = (torch.tensor(a, requires_grad=True) for a in case.data["forward_args"])
    out = F.layer_norm(x, (x.shape[-1],), gamma, beta,
                       eps=case.data["forward_kwargs"].get("eps", 1e-5))
    dx, dgamma, dbeta = torch.autograd.grad(out, (x, gamma, beta),
                                            torch.from_numpy(case.data["dout"]))
    return {"out": out.detach().numpy(), "dx": dx.numpy(), "dgamma": dgamma.numpy(),
            "dbeta": dbeta.numpy()}


def _ln_backward_visible() -> list[Case]:
    rng = np.random.default_rng(56)
    return [_backward_case(_ln_case("x of shape (6, 4)", rng, (6, 4)), rng),
            _backward_case(_ln_case("x of shape (3, 2, 5), eps = 0.1", rng, (3, 2, 5), eps=0.1),
                           rng),
            _backward_case(_ln_case("4-D x of shape (2, 2, 2, 3): dgamma and dbeta sum over the "
                                    "3 leading axes", rng, (2, 2, 2, 3)), rng)]


def _ln_backward_hidden(rng: np.random.Generator) -> list[Case]:
    constant = _ln_case("the same upstream gradient across each row (dx = 0)", rng, (5, 4))
    train = ("autograd", "dx_through_stats", "param_sums", "shapes", "no_mutation")
    return [
        _backward_case(_ln_case("x of shape (16, 10)", rng, (16, 10)), rng, covers=train),
        _backward_case(_ln_case("3-D x of shape (4, 5, 6)", rng, (4, 5, 6)), rng, covers=train),
        _backward_case(_ln_case("rows of 2 features", rng, (7, 2)), rng,
                       covers=("autograd", "dx_through_stats")),
        _backward_case(_ln_case("tiny-variance rows (std 1e-3), eps = 0.5", rng, (5, 7),
                                scale=1e-3, eps=0.5), rng, covers=("autograd", "shapes")),
        _backward_case(constant, rng, covers=("dx_through_stats",),
                       # dout * gamma constant along each row: dx = 0
                       dout=np.tile(rng.normal(size=(5, 1)), (1, 4)) / constant.args[1]),
    ]


layernorm_backward = Exercise(
    name="layernorm_backward",
    visible=_ln_backward_visible,
    hidden=_ln_backward_hidden,
    oracle=_ln_backward_oracle,
    compare=_backward_compare("layernorm_forward"),
    call=_backward_call("layernorm_backward", "layernorm_forward"),
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "autograd": ("dx, dgamma and dbeta are the gradients autograd computes through "
                     "layernorm_forward"),
        "dx_through_stats": ("dx includes the paths through each row's mean and variance, "
                             "which depend on every value of the row"),
        "param_sums": "dgamma = sum of dout * x_hat and dbeta = sum of dout, over every leading "
                      "axis",
        "shapes": "dx is a float64 array of x's shape, dgamma and dbeta of shape (D,)",
        "no_mutation": "dout is left unchanged",
    },
)


# ---------------------------------------------------------------------------------------------
# The BatchNorm1d module: 10 training batches and evaluation against nn.BatchNorm1d
# ---------------------------------------------------------------------------------------------


def _module_case(label: str, rng: np.random.Generator, num_features: int, batch_size: int,
                 num_batches: int = 10, scale: float = 1.0, set_affine: bool = True,
                 covers: tuple[str, ...] = (), **kwargs: Any) -> Case:
    spread = scale * rng.uniform(0.5, 2.0, num_features)
    offset = scale * rng.normal(size=num_features) * 2
    batches = [rng.normal(size=(batch_size, num_features)) * spread + offset
               for _ in range(num_batches + 1)]  # the last one is seen in evaluation
    douts = [rng.normal(size=(batch_size, num_features)) for _ in range(num_batches + 1)]
    data: dict[str, Any] = {"num_features": num_features, "batches": batches, "douts": douts}
    if set_affine:
        data["weight"] = rng.uniform(0.5, 2.0, num_features) * rng.choice([-1.0, 1.0],
                                                                            num_features)
        data["bias"] = rng.normal(size=num_features)
    return Case(label, (num_features,), kwargs, data=data, covers=covers)


def _numpy_state(tensors: Any) -> dict[str, np.ndarray]:
    return {name: t.detach().cpu().numpy().copy() for name, t in tensors}


def _drive(module: nn.Module, case: Case) -> dict[str, Any]:
    """Train ``module`` (float64) on the case's batches, then evaluate it; record everything."""
    record: dict[str, Any] = {
        "parameters": [name for name, _ in module.named_parameters()],
        "buffers": [name for name, _ in module.named_buffers()],
        "initial": _numpy_state(module.state_dict().items()),
    }
    module.double()
    params = dict(module.named_parameters())
    with torch.no_grad():
        for name in ("weight", "bias"):
            if name in case.data:
                if name not in params:
                    raise CheckFailure(f"BatchNorm1d has no parameter {name!r} (it has "
                                       f"{sorted(params)}); name the parameters weight and "
                                       "bias, as torch.nn.BatchNorm1d does")
                params[name].copy_(torch.from_numpy(case.data[name]))
    watched = [params[name] for name in ("weight", "bias") if name in params]
    steps = []
    for k, (batch, dout) in enumerate(zip(case.data["batches"], case.data["douts"],
                                          strict=True)):
        module.train(k < len(case.data["batches"]) - 1)
        x = torch.tensor(batch, requires_grad=True)
        out = module(x)
        if type(out) is not torch.Tensor or out.shape != x.shape:
            raise CheckFailure(f"forward must return a tensor of the input's shape "
                               f"{tuple(x.shape)}, got {type(out).__name__} "
                               f"{tuple(getattr(out, 'shape', ()))}")
        try:
            grads = torch.autograd.grad(out, [x, *watched], torch.from_numpy(dout),
                                        allow_unused=True)
        except RuntimeError as exc:
            raise CheckFailure(f"could not backpropagate through the output "
                               f"({str(exc).splitlines()[0][:200]})") from None
        steps.append({
            "in_graph": sorted(name for name, b in module.named_buffers()
                               if b.requires_grad or b.grad_fn is not None),
            "out": out.detach().numpy().copy(),
            "grads": [None if g is None else g.numpy().copy() for g in grads],
            "buffers": _numpy_state(module.named_buffers()),
        })
    record["steps"] = steps
    record["state_dict"] = _numpy_state(module.state_dict().items())
    return record


def _module_call(impl: Any, case: Case) -> dict[str, Any]:
    if not (isinstance(impl, type) and issubclass(impl, nn.Module)):
        raise CheckFailure("BatchNorm1d must be a class that subclasses torch.nn.Module")
    if issubclass(impl, nn.modules.batchnorm._NormBase):
        raise CheckFailure("BatchNorm1d must not subclass torch.nn.BatchNorm1d: build it from "
                           "tensor operations")
    return _drive(impl(*case.args, **case.kwargs), case)


def _module_oracle(case: Case) -> dict[str, Any]:
    return _drive(nn.BatchNorm1d(*case.args, **case.kwargs), case)


def _module_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    for kind in ("parameters", "buffers"):
        if sorted(got[kind]) != sorted(expected[kind]):
            raise CheckFailure(f"expected the {kind} {sorted(expected[kind])} (the names of "
                               f"torch.nn.BatchNorm1d), got {sorted(got[kind])}")
    for name, want in expected["initial"].items():
        _check_state(got["initial"].get(name), want, f"{name} right after BatchNorm1d(...)")
    num_train = len(expected["steps"]) - 1
    grad_names = ("the input", "weight", "bias")
    for k, (mine, want) in enumerate(zip(got["steps"], expected["steps"], strict=True)):
        where = (f"on training batch {k + 1} of {num_train}" if k < num_train else
                 f"in eval() mode after {num_train} training batches")
        try:
            if mine["in_graph"]:
                raise CheckFailure(f"the buffers {mine['in_graph']} are part of the autograd "
                                   "graph (they require grad or have a grad_fn): update them "
                                   "under torch.no_grad(), as the docstring says")
            _check_close(mine["out"], want["out"], "output")
            for what, g, w in zip(grad_names, mine["grads"], want["grads"], strict=True):
                if g is None:
                    raise CheckFailure(f"no gradient reaches {what}")
                _check_close(g, w, f"gradient of {what}")
            for name, value in want["buffers"].items():
                _check_state(mine["buffers"].get(name), value, f"buffer {name} afterwards")
        except CheckFailure as failure:
            raise CheckFailure(f"{where}: {failure}") from None
    state = {name: torch.from_numpy(np.array(v)) for name, v in got["state_dict"].items()}
    try:
        nn.BatchNorm1d(*case.args, **case.kwargs).double().load_state_dict(state)
    except RuntimeError as exc:
        raise CheckFailure(f"its state_dict does not load into torch.nn.BatchNorm1d "
                           f"({' '.join(str(exc).split())[:300]})") from None


def _check_state(got: Any, want: np.ndarray, what: str) -> None:
    if got is None:
        raise CheckFailure(f"{what}: missing")
    if np.issubdtype(want.dtype, np.integer):
        if (type(got) is not np.ndarray or got.shape != want.shape
                or not np.issubdtype(got.dtype, np.integer) or not np.array_equal(got, want)):
            raise CheckFailure(f"{what}: expected the integer {want.tolist()} (an int64 tensor "
                               f"of shape {want.shape}), got {got!r}")
        return
    require_ndarray(got, want.shape, what)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    try:
        assert_close(got, want, atol=1e-9 * scale, rtol=1e-7)
    except CheckFailure as failure:
        raise CheckFailure(f"{what}: {failure}") from None


def _module_visible() -> list[Case]:
    rng = np.random.default_rng(57)
    return [
        _module_case("10 batches of 16, 4 features, defaults", rng, 4, 16, set_affine=False),
        _module_case("10 batches of 8, 3 features, weight and bias set, momentum 0.2", rng, 3,
                     8, momentum=0.2),
        _module_case("4 batches of 2 (the smallest), momentum 0.5, eps = 0.1: the running "
                     "variance divides by N - 1 = 1", rng, 3, 2, num_batches=4, momentum=0.5,
                     eps=0.1),
    ]


def _module_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("params", "buffers", "state_dict", "train_stats", "eps_inside_sqrt", "affine",
             "momentum", "running_unbiased", "updates_running", "no_grad", "num_batches",
             "eval_running", "eval_frozen", "gradients")
    return [
        _module_case("10 batches of 32, 5 features", rng, 5, 32, covers=every),
        _module_case("batches of 3, momentum 0.5", rng, 4, 3, momentum=0.5,
                     covers=("train_stats", "momentum", "running_unbiased", "updates_running",
                             "no_grad", "num_batches", "eval_running", "eval_frozen", "gradients",
                             "buffers")),
        _module_case("eps = 0.5, momentum 0.05", rng, 3, 10, eps=0.5, momentum=0.05,
                     covers=("eps_inside_sqrt", "affine", "gradients", "state_dict")),
        _module_case("tiny-variance features (std 1e-3)", rng, 3, 12, scale=1e-3,
                     covers=("eps_inside_sqrt", "train_stats", "gradients", "eval_running")),
        _module_case("default weight and bias, 2 features", rng, 2, 6, set_affine=False,
                     covers=("params", "buffers", "state_dict", "num_batches", "momentum")),
    ]


BatchNorm1d = Exercise(
    name="BatchNorm1d",
    visible=_module_visible,
    hidden=_module_hidden,
    oracle=_module_oracle,
    compare=_module_compare,
    call=_module_call,
    forbidden=("torch.nn.BatchNorm1d", "torch.nn.modules.batchnorm",
               "torch.nn.functional.batch_norm", "torch.batch_norm"),
    clauses={
        "params": ("the parameters weight (initialized to ones) and bias (initialized to "
                   "zeros), of shape (num_features,)"),
        "buffers": ("the buffers running_mean (zeros), running_var (ones) and "
                    "num_batches_tracked (an int64 tensor of shape (), 0)"),
        "state_dict": "registered with register_buffer, so that its state_dict loads into "
                      "torch.nn.BatchNorm1d",
        "train_stats": "normalize with the batch mean and the biased batch variance",
        "eps_inside_sqrt": "x_hat = (x - mean) / sqrt(var + eps)",
        "affine": "return weight * x_hat + bias",
        "updates_running": "and update the buffers",
        "no_grad": "(without tracking gradients)",
        "momentum": "running = (1 - momentum) * running + momentum * batch_statistic",
        "running_unbiased": "with the unbiased batch variance for running_var",
        "num_batches": "num_batches_tracked increased by 1",
        "eval_running": "normalize with running_mean and running_var",
        "eval_frozen": "leave every buffer unchanged",
        "gradients": ("Gradients reach x, weight and bias exactly as through "
                      "torch.nn.BatchNorm1d (also through the batch mean and variance)"),
    },
)

#: Every exercise of the assignment, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex for ex in (standardize, batchnorm_forward, batchnorm_backward,
                           batchnorm2d_forward, batchnorm2d_backward, layernorm_forward,
                           layernorm_backward, BatchNorm1d)
}
