"""Checks of assignment ``a04_loss_functions``: one-hot targets, softmax and the usual losses.

Oracles are ``torch.nn.functional`` in float64 (``one_hot``, ``softmax``, ``log_softmax``,
``cross_entropy`` with and without ``label_smoothing``, ``mse_loss``,
``binary_cross_entropy_with_logits``) and, for the gradients, autograd on them. Every hidden
case names the clauses of the answer cell's docstring it exercises (``Case.covers``); the keys
are listed in each exercise's ``clauses``.

Tolerances are relative (``rtol = 1e-10``) plus an absolute part proportional to the magnitude
of the numbers an implementation has to subtract (stored with the case as ``scale`` for the
loss and ``grad_scale`` for the gradient), so every correct way of writing a function passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from autograder.checks.core import (
    Case,
    CheckFailure,
    Exercise,
    assert_close,
    require_float64,
    require_number,
)

RTOL = 1e-10
#: The likely causes of a NaN or infinite loss.
_NOT_FINITE = " (overflow in exp? log of 0?)"
#: The libraries that would do the exercise for the student.
FORBIDDEN = ("torch", "scipy.special", "sklearn")


# ---------------------------------------------------------------------------------------------
# Comparisons shared by the exercises (module-level: the kit ships them).
# ---------------------------------------------------------------------------------------------


def _factor_hint(got: Any, want: Any, factors: dict[str, float]) -> str:
    """' (...)' naming a known factor between got and want, when there is one."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape or not np.all(np.isfinite(got)) or not np.any(want):
        return ""
    for text, factor in factors.items():
        if factor != 1.0 and np.allclose(got, factor * want, rtol=1e-8, atol=0.0):
            return f" ({text})"
    return ""


def _close_array(got: np.ndarray, want: np.ndarray, atol: float, hints: dict[str, float]
                 ) -> None:
    try:
        assert_close(got, want, atol=atol, rtol=RTOL)
    except CheckFailure as failure:
        raise CheckFailure(f"{failure}{_factor_hint(got, want, hints)}") from None


def _array_compare(got: Any, expected: np.ndarray, case: Case) -> None:
    """An elementwise result (softmax, log_softmax) of the input's shape, float64."""
    require_float64(got, expected.shape, "result")
    _close_array(got, expected, 1e-12 * case.data["scale"], {})


def _one_hot_compare(got: Any, expected: np.ndarray, case: Case) -> None:
    if type(got) is not np.ndarray:
        raise CheckFailure(f"expected a numpy.ndarray, got {type(got).__name__}")
    if got.shape != expected.shape:
        hint = (": one row per example, one column per class" if got.shape[::-1] ==
                expected.shape else "")
        raise CheckFailure(f"expected shape (N, num_classes) = {expected.shape}, got "
                           f"{got.shape}{hint}")
    if got.dtype != np.float64:
        raise CheckFailure(f"expected dtype float64, got {got.dtype} (np.zeros defaults to "
                           "float64; np.eye(..., dtype=int) or astype(int) do not)")
    if not np.array_equal(got, expected):
        rows = [int(i) for i in np.flatnonzero(np.any(got != expected, axis=1))]
        i = rows[0]
        raise CheckFailure(f"row {i} (label {int(case.args[0][i])}) should be "
                           f"{expected[i].tolist()}, got {got[i].tolist()} "
                           f"({len(rows)} wrong row(s))")


def _loss_grad_compare(grad_name: str) -> Callable[[Any, dict[str, Any], Case], None]:
    """The comparison of a ``(loss, gradient)`` pair; ``grad_name`` names the gradient."""

    def compare(got: Any, expected: dict[str, Any], case: Case) -> None:
        if type(got) not in (tuple, list) or len(got) != 2:
            length = f" of length {len(got)}" if type(got) in (tuple, list) else ""
            raise CheckFailure(f"expected a tuple (loss, {grad_name}), got "
                               f"{type(got).__name__}{length}")
        n = case.data["n"]
        loss = require_number(got[0], "loss", _NOT_FINITE)
        want = float(expected["loss"])
        allowed = 1e-12 * case.data["scale"] + RTOL * abs(want)
        if not abs(loss - want) <= allowed:
            factors = {f"{n} times the expected value: the sum instead of the mean?": float(n),
                       f"1/{n} of the expected value: divided by {n} twice?": 1.0 / n}
            rows = case.data.get("rows")
            if rows and rows != n:
                factors[f"{n // rows} times the expected value: the mean over the {rows} rows "
                        f"only, not over all {n} elements?"] = n / rows
            hint = _factor_hint(loss, want, factors)
            raise CheckFailure(f"expected loss {want!r}, got {loss!r} (error "
                               f"{abs(loss - want):.3g}, allowed {allowed:.3g}){hint}")
        grad = expected["grad"]
        try:
            require_float64(got[1], grad.shape, grad_name)
            _close_array(got[1], grad, 1e-12 * case.data["grad_scale"], {
                f"{n} times the expected values: not divided by the {n} averaged values?":
                float(n),
                f"1/{n} of the expected values: divided by {n} twice?": 1.0 / n,
                "half the expected values: the factor 2 is missing?": 0.5,
                "the opposite sign: prediction minus target, not target minus prediction":
                -1.0})
        except CheckFailure as failure:
            raise CheckFailure(f"{grad_name}: {failure}") from None

    return compare


def _scale(*arrays: np.ndarray) -> float:
    return 1.0 + max(float(np.max(np.abs(a))) for a in arrays)


# ---------------------------------------------------------------------------------------------
# one_hot
# ---------------------------------------------------------------------------------------------


def _one_hot_case(label: str, y: Any, num_classes: int, dtype: Any = np.int64,
                  covers: tuple[str, ...] = ()) -> Case:
    return Case(label, (np.asarray(y, dtype=dtype), int(num_classes)), covers=covers)


def _one_hot_visible() -> list[Case]:
    return [
        _one_hot_case("y = [0, 2, 1, 2], num_classes = 3", [0, 2, 1, 2], 3),
        _one_hot_case("y = [1, 3, 0], num_classes = 5: classes 2 and 4 have no example",
                      [1, 3, 0], 5),
        _one_hot_case("one example of the last class: y = [4], num_classes = 5", [4], 5),
    ]


def _one_hot_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("formula", "shape", "dtype", "unchanged")
    return [
        _one_hot_case("every class present, 12 rows, 4 classes",
                      rng.permutation(np.arange(12) % 4), 4, covers=every),
        _one_hot_case("classes without an example (num_classes > y.max() + 1)",
                      rng.integers(0, 4, size=9), 7, covers=(*every, "absent_classes")),
        _one_hot_case("a single example", [int(rng.integers(0, 3))], 5,
                      covers=("formula", "shape", "dtype", "absent_classes")),
        _one_hot_case("int32 labels, 200 rows, 10 classes",
                      np.r_[np.arange(10), rng.integers(0, 10, size=190)], 10, dtype=np.int32,
                      covers=every),
    ]


def _one_hot_oracle(case: Case) -> np.ndarray:
    y, num_classes = case.args
    return F.one_hot(torch.from_numpy(y.astype(np.int64)), num_classes).double().numpy()


one_hot = Exercise(
    name="one_hot",
    visible=_one_hot_visible,
    hidden=_one_hot_hidden,
    oracle=_one_hot_oracle,
    compare=_one_hot_compare,
    forbidden=FORBIDDEN,
    clauses={
        "formula": "Row i of the result is all zeros except a single 1.0 in column y[i]: "
                   "out[i, c] = 1.0 if c == y[i] else 0.0.",
        "absent_classes": "Some classes may have no example in y (num_classes may exceed "
                          "y.max() + 1).",
        "shape": "a new array of shape (N, num_classes)",
        "dtype": "dtype float64",
        "unchanged": "Must be left unchanged.",
    },
)


# ---------------------------------------------------------------------------------------------
# softmax and log_softmax
# ---------------------------------------------------------------------------------------------


def _scores_case(label: str, z: np.ndarray, covers: tuple[str, ...] = ()) -> Case:
    z = np.asarray(z, dtype=np.float64)
    return Case(label, (z,), data={"scale": _scale(z)}, covers=covers)


def _scores_visible() -> list[Case]:
    return [
        _scores_case("z = [1, 2, 3]", [1.0, 2.0, 3.0]),
        _scores_case("2 rows of 4 scores", [[0.5, -1.0, 2.0, 0.0], [3.0, 3.0, -2.0, 1.0]]),
        _scores_case("large scores: [1e4, -1e4, 0] and [1e4, 1e4 - 1, 1e4 - 2]",
                     [[1e4, -1e4, 0.0], [1e4, 1e4 - 1.0, 1e4 - 2.0]]),
    ]


def _scores_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("formula", "returns", "unchanged")
    rows = (*every, "last_axis")
    large = (*rows, "stable")
    return [
        _scores_case("5 rows of 7 scores", rng.normal(size=(5, 7)) * 3, covers=rows),
        _scores_case("a single vector of 6 scores", rng.normal(size=6) * 2,
                     covers=(*every, "leading_axes")),
        _scores_case("3-D scores of shape (2, 3, 4)", rng.normal(size=(2, 3, 4)),
                     covers=(*rows, "leading_axes")),
        _scores_case("square (6, 6) scores", rng.normal(size=(6, 6)) * 4, covers=rows),
        _scores_case("scores up to 1e4 in absolute value", rng.uniform(-1e4, 1e4, size=(4, 6)),
                     covers=large),
        _scores_case("every score near +1e4", 1e4 - rng.uniform(0, 5, size=(3, 5)),
                     covers=large),
        _scores_case("every score near -1e4", -1e4 + rng.uniform(0, 5, size=(3, 5)),
                     covers=large),
        _scores_case("a vector of scores up to 1e4", rng.uniform(-1e4, 1e4, size=5),
                     covers=(*every, "leading_axes", "stable")),
        _scores_case("tiny scores (1e-8)", rng.normal(size=(3, 4)) * 1e-8, covers=rows),
    ]


def _softmax_oracle(case: Case) -> np.ndarray:
    return torch.softmax(torch.from_numpy(case.args[0]), dim=-1).numpy()


def _log_softmax_oracle(case: Case) -> np.ndarray:
    return torch.log_softmax(torch.from_numpy(case.args[0]), dim=-1).numpy()


def _softmax_compare(got: Any, expected: np.ndarray, case: Case) -> None:
    """Probabilities are at most 1: an absolute tolerance of 1e-14 whatever the scores."""
    require_float64(got, expected.shape, "result")
    _close_array(got, expected, 1e-14, {})


softmax = Exercise(
    name="softmax",
    visible=_scores_visible,
    hidden=_scores_hidden,
    oracle=_softmax_oracle,
    compare=_softmax_compare,
    forbidden=FORBIDDEN,
    clauses={
        "formula": "out[..., j] = exp(z[..., j]) / sum_k exp(z[..., k])",
        "last_axis": "It is computed along the last axis only: every slice z[..., :] is "
                     "normalized on its own.",
        "leading_axes": "any number of leading axes (none for a single vector of shape (C,))",
        "stable": "No overflow and no nan for |z| up to 1e4",
        "unchanged": "Must be left unchanged.",
        "returns": "a new float64 array of z's shape",
    },
)

log_softmax = Exercise(
    name="log_softmax",
    visible=_scores_visible,
    hidden=_scores_hidden,
    oracle=_log_softmax_oracle,
    compare=_array_compare,
    forbidden=FORBIDDEN,
    clauses={
        "formula": "out[..., j] = z[..., j] - log(sum_k exp(z[..., k]))",
        "last_axis": "It is computed along the last axis only: every slice z[..., :] is "
                     "normalized on its own.",
        "leading_axes": "any number of leading axes (none for a single vector of shape (C,))",
        "stable": "It equals torch.log_softmax(z, dim=-1) to rounding error, also for |z| up "
                  "to 1e4",
        "unchanged": "Must be left unchanged.",
        "returns": "a new float64 array of z's shape",
    },
)


# ---------------------------------------------------------------------------------------------
# cross_entropy and label_smoothing_cross_entropy
# ---------------------------------------------------------------------------------------------


def _ce_case(label: str, logits: np.ndarray, y: Any, smoothing: float | None = None,
             covers: tuple[str, ...] = ()) -> Case:
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    args = (logits, y) if smoothing is None else (logits, y, float(smoothing))
    n = len(logits)
    return Case(label, args, data={"n": n, "scale": _scale(logits),
                                   "grad_scale": 1.0 / n}, covers=covers)


def _labels(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return rng.integers(0, c, size=n)


def _confident(rng: np.random.Generator, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    y = _labels(rng, n, c)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y] += 30.0
    return logits, y


def _ce_visible() -> list[Case]:
    return [
        _ce_case("3 examples, 4 classes", [[2.0, 1.0, 0.1, -1.0], [0.0, 0.0, 0.0, 0.0],
                                           [-1.0, 3.0, 0.5, 2.0]], [0, 3, 1]),
        _ce_case("one example, 2 classes", [[1.5, -0.5]], [1]),
        _ce_case("large logits: [1e4, -1e4, 0] and [1e4, 1e4 - 1, 1e4 - 2]",
                 [[1e4, -1e4, 0.0], [1e4, 1e4 - 1.0, 1e4 - 2.0]], [1, 2]),
    ]


def _ce_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("loss", "gradient", "returns", "unchanged")
    batch = (*every, "mean")
    large = (*batch, "stable")
    return [
        _ce_case("8 examples, 5 classes", rng.normal(size=(8, 5)) * 2, _labels(rng, 8, 5),
                 covers=batch),
        _ce_case("a single example", rng.normal(size=(1, 6)), _labels(rng, 1, 6), covers=every),
        _ce_case("50 examples, 10 classes", rng.normal(size=(50, 10)) * 3,
                 _labels(rng, 50, 10), covers=batch),
        _ce_case("logits up to 1e4 in absolute value", rng.uniform(-1e4, 1e4, size=(6, 4)),
                 _labels(rng, 6, 4), covers=large),
        _ce_case("every logit near +1e4", 1e4 - rng.uniform(0, 5, size=(5, 3)),
                 _labels(rng, 5, 3), covers=large),
        _ce_case("every logit near -1e4", -1e4 + rng.uniform(0, 5, size=(5, 3)),
                 _labels(rng, 5, 3), covers=large),
        _ce_case("tiny logits (1e-8): loss near log C", rng.normal(size=(4, 7)) * 1e-8,
                 _labels(rng, 4, 7), covers=batch),
        _ce_case("confident, correct predictions (loss near 0)", *_confident(rng, 6, 4),
                 covers=batch),
    ]


def _ls_visible() -> list[Case]:
    return [
        _ce_case("3 examples, 4 classes, smoothing 0.1",
                 [[2.0, 1.0, 0.1, -1.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 3.0, 0.5, 2.0]],
                 [0, 3, 1], smoothing=0.1),
        _ce_case("2 examples, 3 classes, smoothing 0.5", [[1.0, -1.0, 0.5], [0.2, 0.3, -2.0]],
                 [2, 0], smoothing=0.5),
        _ce_case("large logits [1e4, -1e4, 0], smoothing 0.1", [[1e4, -1e4, 0.0]], [0],
                 smoothing=0.1),
    ]


def _ls_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("loss", "gradient", "returns", "unchanged")
    smoothed = (*every, "targets", "mean")
    return [
        _ce_case("8 examples, 5 classes, smoothing 0.1", rng.normal(size=(8, 5)) * 2,
                 _labels(rng, 8, 5), smoothing=0.1, covers=smoothed),
        _ce_case("smoothing 0 is plain cross-entropy", rng.normal(size=(6, 4)) * 2,
                 _labels(rng, 6, 4), smoothing=0.0, covers=(*every, "mean", "zero")),
        _ce_case("smoothing 1: uniform targets", rng.normal(size=(5, 6)), _labels(rng, 5, 6),
                 smoothing=1.0, covers=smoothed),
        _ce_case("two classes, smoothing 0.3", rng.normal(size=(7, 2)) * 2, _labels(rng, 7, 2),
                 smoothing=0.3, covers=smoothed),
        _ce_case("a single example, smoothing 0.05", rng.normal(size=(1, 9)),
                 _labels(rng, 1, 9), smoothing=0.05, covers=(*every, "targets")),
        _ce_case("logits up to 1e4, smoothing 0.2", rng.uniform(-1e4, 1e4, size=(6, 4)),
                 _labels(rng, 6, 4), smoothing=0.2, covers=(*smoothed, "stable")),
        _ce_case("every logit near -1e4, smoothing 0.1", -1e4 + rng.uniform(0, 5, size=(5, 3)),
                 _labels(rng, 5, 3), smoothing=0.1, covers=(*smoothed, "stable")),
        _ce_case("logits up to 1e4, smoothing 0", rng.uniform(-1e4, 1e4, size=(4, 5)),
                 _labels(rng, 4, 5), smoothing=0.0, covers=(*every, "mean", "zero", "stable")),
        _ce_case("confident predictions, smoothing 0.1", *_confident(rng, 6, 4),
                 smoothing=0.1, covers=smoothed),
    ]


def _ce_oracle(case: Case) -> dict[str, Any]:
    logits = torch.tensor(case.args[0], dtype=torch.float64, requires_grad=True)
    y = torch.from_numpy(case.args[1])
    smoothing = case.args[2] if len(case.args) > 2 else 0.0
    loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
    loss.backward()
    return {"loss": loss.item(), "grad": logits.grad.numpy().copy()}


cross_entropy = Exercise(
    name="cross_entropy",
    visible=_ce_visible,
    hidden=_ce_hidden,
    oracle=_ce_oracle,
    compare=_loss_grad_compare("dlogits"),
    forbidden=FORBIDDEN,
    clauses={
        "loss": "loss = -(1/N) sum_i log_softmax(logits)[i, y[i]], as "
                "torch.nn.functional.cross_entropy(logits, y) computes it.",
        "mean": "The loss is the mean over the N examples, not the sum.",
        "gradient": "dlogits = (softmax(logits) - one_hot(y, C)) / N is the gradient of loss "
                    "with respect to logits.",
        "stable": "Both stay finite and exact for logits up to 1e4 in absolute value.",
        "unchanged": "Must be left unchanged.",
        "returns": "(loss, dlogits): loss is a Python float (a numpy float64 scalar is accepted "
                   "too); dlogits is a new float64 array of shape (N, C).",
    },
)

label_smoothing_cross_entropy = Exercise(
    name="label_smoothing_cross_entropy",
    visible=_ls_visible,
    hidden=_ls_hidden,
    oracle=_ce_oracle,
    compare=_loss_grad_compare("dlogits"),
    forbidden=FORBIDDEN,
    clauses={
        "targets": "q = (1 - smoothing) * one_hot(y, C) + smoothing / C: the true class keeps "
                   "1 - smoothing and smoothing is spread evenly over all C classes, the true "
                   "one included.",
        "loss": "loss = -(1/N) sum_i sum_c q[i, c] * log_softmax(logits)[i, c], as "
                "torch.nn.functional.cross_entropy(logits, y, label_smoothing=smoothing) "
                "computes it.",
        "mean": "The loss is the mean over the N examples, not the sum.",
        "gradient": "dlogits = (softmax(logits) - q) / N is the gradient of loss with respect "
                    "to logits.",
        "zero": "smoothing = 0 gives cross_entropy(logits, y) exactly.",
        "stable": "Both stay finite and exact for logits up to 1e4 in absolute value.",
        "unchanged": "Must be left unchanged.",
        "returns": "(loss, dlogits): loss is a Python float (a numpy float64 scalar is accepted "
                   "too); dlogits is a new float64 array of shape (N, C).",
    },
)


# ---------------------------------------------------------------------------------------------
# mse_loss
# ---------------------------------------------------------------------------------------------


def _mse_case(label: str, pred: np.ndarray, target: np.ndarray,
              covers: tuple[str, ...] = ()) -> Case:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    diff = pred - target
    return Case(label, (pred, target),
                data={"n": pred.size, "rows": len(pred) if pred.ndim > 1 else None,
                      "scale": float(np.max(diff**2)) or 1e-300,
                      "grad_scale": 2.0 * float(np.max(np.abs(diff))) / pred.size or 1e-300},
                covers=covers)


def _mse_visible() -> list[Case]:
    return [
        _mse_case("4 values", [1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0]),
        _mse_case("2 x 3 predictions", [[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0]],
                  [[0.5, 1.0, 1.0], [0.0, 0.0, 3.0]]),
        _mse_case("3-D predictions of shape (2, 1, 3): the mean over all 6 elements",
                  [[[1.0, -1.0, 0.5]], [[2.0, 0.0, -0.5]]],
                  [[[0.0, -1.0, 1.5]], [[2.5, 1.0, -0.5]]]),
    ]


def _mse_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("loss", "gradient", "returns", "unchanged")
    grid = (*every, "mean")
    near, same = rng.normal(size=(3, 3)), rng.normal(size=(2, 5))
    return [
        _mse_case("6 x 3 predictions", rng.normal(size=(6, 3)), rng.normal(size=(6, 3)),
                  covers=grid),
        _mse_case("3-D predictions of shape (2, 3, 4)", rng.normal(size=(2, 3, 4)),
                  rng.normal(size=(2, 3, 4)), covers=grid),
        _mse_case("one-hot targets, 5 x 10", rng.normal(size=(5, 10)),
                  np.eye(10)[rng.integers(0, 10, size=5)], covers=grid),
        _mse_case("10 values", rng.normal(size=10), rng.normal(size=10), covers=every),
        _mse_case("huge values (1e6)", rng.normal(size=(4, 2)) * 1e6,
                  rng.normal(size=(4, 2)) * 1e6, covers=grid),
        _mse_case("tiny differences (1e-8)", near + 1e-8 * rng.normal(size=(3, 3)), near,
                  covers=grid),
        _mse_case("pred equal to target", same, same.copy(), covers=grid),
    ]


def _elementwise_loss_oracle(loss_fn: Callable[..., torch.Tensor]
                             ) -> Callable[[Case], dict[str, Any]]:
    """The oracle of ``loss(input, target)``: its value and its gradient by autograd."""
    def oracle(case: Case) -> dict[str, Any]:
        first = torch.tensor(case.args[0], dtype=torch.float64, requires_grad=True)
        loss = loss_fn(first, torch.from_numpy(case.args[1]))
        loss.backward()
        return {"loss": loss.item(), "grad": first.grad.numpy().copy()}
    return oracle


_mse_oracle = _elementwise_loss_oracle(F.mse_loss)


mse_loss = Exercise(
    name="mse_loss",
    visible=_mse_visible,
    hidden=_mse_hidden,
    oracle=_mse_oracle,
    compare=_loss_grad_compare("dpred"),
    forbidden=FORBIDDEN,
    clauses={
        "loss": "loss = mean((pred - target) ** 2), as torch.nn.functional.mse_loss(pred, "
                "target) computes it.",
        "mean": "The mean is over all pred.size elements (pred may have any shape), not the "
                "sum and not only over the rows.",
        "gradient": "dpred = 2 * (pred - target) / pred.size is the gradient of loss with "
                    "respect to pred.",
        "unchanged": "Must be left unchanged.",
        "returns": "(loss, dpred): loss is a Python float (a numpy float64 scalar is accepted "
                   "too); dpred is a new float64 array of pred's shape.",
    },
)


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# ---------------------------------------------------------------------------------------------


def _bce_case(label: str, z: np.ndarray, y: np.ndarray, covers: tuple[str, ...] = ()) -> Case:
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return Case(label, (z, y), data={"n": z.size, "scale": _scale(z),
                                     "grad_scale": 1.0 / z.size}, covers=covers)


def _hard(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 2, size=shape).astype(np.float64)


def _bce_visible() -> list[Case]:
    return [
        _bce_case("4 logits, hard targets", [2.0, -1.0, 0.0, 0.5], [1.0, 0.0, 1.0, 0.0]),
        _bce_case("2 x 2 logits, soft targets", [[1.0, -2.0], [0.3, 3.0]],
                  [[0.9, 0.2], [0.5, 1.0]]),
        _bce_case("large logits [1e4, -1e4, 1e4, -1e4]", [1e4, -1e4, 1e4, -1e4],
                  [1.0, 0.0, 0.0, 1.0]),
    ]


def _bce_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("loss", "gradient", "returns", "unchanged", "mean")
    extremes = np.array([1e4, -1e4, 9e3, -9e3, 40.0, -40.0])
    return [
        _bce_case("4 x 3 logits, hard targets", rng.normal(size=(4, 3)) * 2, _hard(rng, (4, 3)),
                  covers=every),
        _bce_case("10 logits, soft targets", rng.normal(size=10) * 2, rng.uniform(size=10),
                  covers=(*every, "soft")),
        _bce_case("3-D logits, soft targets", rng.normal(size=(2, 3, 2)),
                  rng.uniform(size=(2, 3, 2)), covers=(*every, "soft")),
        _bce_case("|z| up to 1e4, hard targets", np.r_[extremes, extremes],
                  np.r_[np.ones(6), np.zeros(6)], covers=(*every, "stable")),
        _bce_case("|z| up to 1e4, soft targets", rng.uniform(-1e4, 1e4, size=(3, 4)),
                  rng.uniform(size=(3, 4)), covers=(*every, "stable", "soft")),
        _bce_case("z = +-40, where 1 - sigmoid(z) rounds to 0", [40.0, -40.0, 40.0, -40.0],
                  [1.0, 0.0, 0.0, 1.0], covers=(*every, "stable")),
        _bce_case("tiny logits (1e-8)", rng.normal(size=(3, 3)) * 1e-8, _hard(rng, (3, 3)),
                  covers=every),
    ]


_bce_oracle = _elementwise_loss_oracle(F.binary_cross_entropy_with_logits)


binary_cross_entropy_with_logits = Exercise(
    name="binary_cross_entropy_with_logits",
    visible=_bce_visible,
    hidden=_bce_hidden,
    oracle=_bce_oracle,
    compare=_loss_grad_compare("dz"),
    forbidden=FORBIDDEN,
    clauses={
        "loss": "loss = mean(-y * log(sigmoid(z)) - (1 - y) * log(1 - sigmoid(z))), as "
                "torch.nn.functional.binary_cross_entropy_with_logits(z, y) computes it.",
        "mean": "The mean is over all z.size elements (z may have any shape), not the sum.",
        "gradient": "dz = (sigmoid(z) - y) / z.size is the gradient of loss with respect to z.",
        "soft": "targets in [0, 1], not only 0 and 1 (soft targets)",
        "stable": "Both stay finite and exact for |z| up to 1e4",
        "unchanged": "Must be left unchanged.",
        "returns": "(loss, dz): loss is a Python float (a numpy float64 scalar is accepted "
                   "too); dz is a new float64 array of z's shape.",
    },
)

#: Every exercise of the assignment, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex for ex in (one_hot, softmax, log_softmax, cross_entropy, mse_loss,
                           binary_cross_entropy_with_logits, label_smoothing_cross_entropy)
}
