"""Checks of assignment ``a06_regularization``: weight decay, dropout, DropConnect, data
augmentation, stochastic depth, averaging and early stopping.

**Deterministic exercises** are compared with an oracle: PyTorch in float64 wherever it has an
equivalent (autograd for the L2 penalty, ``torch.optim.SGD`` and ``torch.optim.AdamW`` over
several consecutive steps, ``torch.nn.functional.dropout`` in evaluation, autograd through
``x * mask`` for the dropout backward pass, ``torch.optim.swa_utils.get_ema_multi_avg_fn``,
``torch.argmax``), and a reference implementation of the docstring for early stopping.

**Random exercises** (``dropout_forward``, ``dropconnect_forward``, ``random_horizontal_flip``,
``random_crop``, ``stochastic_depth``) take a ``numpy.random.Generator``. A generator cannot be
stored as case data, so a case stores a seed and the exercise's ``call`` builds
``np.random.default_rng(seed)`` itself. Their cases check properties, never one particular
random stream, so that any correct way of drawing passes:

* the structure of the result: mask values in ``{0, 1 / (1 - p)}``, the output consistent with
  the returned mask, each image equal to itself or its horizontal flip, each crop a window of
  the zero-padded image, each sample's residual branch kept (and scaled) or dropped as a whole;
* rates: the fraction of dropped entries (flipped images, dropped branches) lies within
  Hoeffding's bound ``|fraction - p| <= sqrt(log(2 / FALSE_ALARM) / (2 n))`` of its probability,
  which a correct implementation exceeds with probability below ``FALSE_ALARM`` (1e-12) at any
  seed; ``p = 0`` and ``p = 1`` are checked exactly;
* independence: dropout and DropConnect masks are not constant along most rows or columns
  (checked only where a correct mask does so with probability below ``FALSE_ALARM``, see
  :func:`_check_independent`), flips and branch drops are not all-or-nothing across the batch
  (the rate bound), every crop offset is reached (cases are sized so that a correct uniform draw
  misses one with probability ``K (1 - 1/K)^N < 1e-12`` for ``K`` offsets and ``N`` images);
* the randomness comes from ``rng``: the call runs the function twice with generators of the
  same seed (identical results expected: catches ``np.random.*`` and unseeded generators) and
  once with another seed (a different result expected where a correct implementation gives the
  same one with probability below ``FALSE_ALARM``: catches a generator of fixed seed made inside
  the function, and fixed positions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch.optim.swa_utils import get_ema_multi_avg_fn

from autograder.checks.core import (
    Case,
    CheckFailure,
    Exercise,
    assert_close,
    check_close,
    compare_trajectory,
    require_float64,
    require_number,
    unpack,
)

#: The numpy exercises: torch would do them for the student.
NUMPY_FORBIDDEN = ("torch",)
#: Probability that one statistical check rejects a correct implementation (at most).
FALSE_ALARM = 1e-12
#: Relative tolerance of the deterministic comparisons, and the absolute part relative to the
#: magnitude of the expected values (differently written float64 code differs by rounding).
RTOL = 1e-10
ATOL_FACTOR = 1e-12


# ---------------------------------------------------------------------------------------------
# Shared helpers (shipped in the kit with the comparisons and calls that use them).
# ---------------------------------------------------------------------------------------------


def _check_close(got: Any, want: np.ndarray, what: str) -> None:
    """``got`` is a float64 array of ``want``'s shape, within ``RTOL`` and ``ATOL_FACTOR`` times
    the largest ``|want|``."""
    want = np.asarray(want, dtype=np.float64)
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    check_close(got, want, what, atol=ATOL_FACTOR * scale + 1e-300, rtol=RTOL)


def _snapshot(value: Any) -> Any:
    """A copy of an argument (arrays, and lists or tuples of them) to compare with later."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    return value


def _unchanged(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and before.shape == after.shape
                and np.array_equal(before, after, equal_nan=True))
    if isinstance(before, (list, tuple)):
        return (type(after) is type(before) and len(after) == len(before)
                and all(_unchanged(b, a) for b, a in zip(before, after, strict=True)))
    return True


def _call_unchanged(name: str, impl: Callable, args: tuple, kwargs: dict, label: str) -> Any:
    """Call ``impl`` on copies of ``args``; fail if it modified an input array, or a list of
    arrays (an item replaced, added or removed, or an array changed in place)."""
    args = tuple(_snapshot(a) for a in args)
    before = [_snapshot(a) for a in args]
    result = impl(*args, **kwargs)
    for old, new in zip(before, args, strict=True):
        if not _unchanged(old, new):
            raise CheckFailure(f"{name} modified its input in place (case: {label}); work on "
                               "copies and return new arrays.")
    return result


def _hoeffding(n: int) -> float:
    """Half-width of the interval in which the fraction of successes of ``n`` independent
    Bernoulli draws lies with probability at least ``1 - FALSE_ALARM`` (Hoeffding)."""
    return math.sqrt(math.log(2.0 / FALSE_ALARM) / (2.0 * n))


def _check_rate(count: int, n: int, probability: float, what: str, hint: str) -> None:
    """``count`` of ``n`` independent events of probability ``probability``: exact when the
    probability is 0 or 1, within Hoeffding's bound otherwise."""
    fraction = count / n
    if probability in (0.0, 1.0):
        if fraction != probability:
            raise CheckFailure(f"{count} of {n} {what}; with probability {probability:g} "
                               f"expected {int(probability * n)}{hint}")
        return
    margin = _hoeffding(n)
    if abs(fraction - probability) > margin:
        reversed_hint = ("" if abs(fraction - (1.0 - probability)) > margin else
                         f" (that is about 1 - {probability:g}: is the probability reversed?)")
        raise CheckFailure(f"{count} of {n} {what} (a fraction of {fraction:.4f}); with "
                           f"probability {probability:g} the fraction is within "
                           f"{probability:g} +- {margin:.4f} except with probability "
                           f"{FALSE_ALARM:g}{reversed_hint}{hint}")


def _check_independent(dropped: np.ndarray, p: float, what: str) -> None:
    """Entries of a 2-D boolean mask drawn independently are rarely constant along a row (a
    column): fail when more than half the rows (columns) are, where a correct mask makes that
    happen with probability at most ``(4 q)^(n / 2) <= FALSE_ALARM``, with ``q`` the
    probability that one row (column) is constant and ``n`` the number of rows (columns)."""
    for axis, lines in ((1, "rows"), (0, "columns")):
        length, count = dropped.shape[axis], dropped.shape[1 - axis]
        q = p**length + (1.0 - p) ** length
        if count < 2 or (4.0 * q) ** (count / 2.0) > FALSE_ALARM:
            continue
        constant = np.all(dropped == np.take(dropped, [0], axis=axis), axis=axis)
        if constant.mean() > 0.5:
            raise CheckFailure(f"{int(constant.sum())} of the {count} {lines} of the {what} are "
                               f"dropped or kept as a whole: every entry must be dropped "
                               f"independently of the others (one draw per entry)")


def _random_call(name: str, returns: tuple[str, ...]) -> Callable[[Callable, Case], dict]:
    """Call a random exercise with ``np.random.default_rng(seed)`` (the case's seed), twice, and
    once with another seed.

    Returns the first run's results by name, with ``aliases_input`` (a returned array shares
    memory with an input array), ``repeatable`` (the same seed gave an identical result) and
    ``same_for_other_seed`` (another seed gave an identical result). Fails when the function
    modified an input array.
    """

    def call(impl: Callable, case: Case) -> dict[str, Any]:
        seed = case.data["seed"]
        runs = []
        for run_seed in (seed, seed, seed + 1):
            args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in case.args)
            before = [a.copy() for a in args if isinstance(a, np.ndarray)]
            result = impl(*args, np.random.default_rng(run_seed))
            inputs = [a for a in args if isinstance(a, np.ndarray)]
            for old, new in zip(before, inputs, strict=True):
                if not np.array_equal(old, new, equal_nan=True):
                    raise CheckFailure(f"{name} modified its input array in place (case: "
                                       f"{case.label}); work on a copy instead.")
            values = unpack(result, returns, name) if len(returns) > 1 else (result,)
            run = dict(zip(returns, values, strict=True))
            run["aliases_input"] = any(isinstance(v, np.ndarray) and np.may_share_memory(v, a)
                                       for v in values for a in inputs)
            runs.append(run)

        def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
            for key in returns:
                x, y = a[key], b[key]
                if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
                    if x.shape != y.shape or not np.array_equal(x, y, equal_nan=True):
                        return False
                elif (x is None) != (y is None) or (x is not None and type(x) is not type(y)):
                    return False
            return True

        first = runs[0]
        first["repeatable"] = same(first, runs[1])
        first["same_for_other_seed"] = same(first, runs[2])
        return first

    return call


def _check_rng(got: dict[str, Any], case: Case, name: str) -> None:
    """The result depends on the generator passed in, and on nothing else."""
    if not got["repeatable"]:
        raise CheckFailure("two calls with generators of the same seed gave different "
                           "results: draw every random number from rng (not np.random.*, not "
                           "a new generator)")
    if case.data["varies"] and got["same_for_other_seed"]:
        raise CheckFailure(f"generators of two different seeds gave the same result: draw the "
                           f"random numbers from the rng passed to {name} (not from a generator "
                           f"of fixed seed, not at fixed positions)")


def _check_new_array(got: dict[str, Any], what: str) -> None:
    if got["aliases_input"]:
        raise CheckFailure(f"the {what} shares memory with the input (images itself or a view "
                           f"of it, such as a slice or images[..., ::-1]): return a new array "
                           f"(.copy())")


def _agreement(p: float, n: int) -> float:
    """Probability that two independent draws of ``n`` Bernoulli(p) variables are identical."""
    return (p * p + (1.0 - p) ** 2) ** n


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


# ---------------------------------------------------------------------------------------------
# l2_penalty: autograd of 0.5 * weight_decay * sum of squares
# ---------------------------------------------------------------------------------------------


def _l2_case(label: str, params: Sequence[np.ndarray], weight_decay: float,
             covers: tuple[str, ...] = ()) -> Case:
    params = [np.asarray(a, dtype=np.float64) for a in params]
    return Case(label, (params, float(weight_decay)), covers=covers)


def _l2_visible() -> list[Case]:
    rng = np.random.default_rng(60)
    return [
        _l2_case("a weight matrix (3, 2) and a bias (2,), weight_decay = 0.1",
                 [rng.normal(size=(3, 2)), rng.normal(size=2)], 0.1),
        _l2_case("W = [[1, 2], [3, 4]], weight_decay = 1: penalty 0.5 * 30 = 15",
                 [[[1.0, 2.0], [3.0, 4.0]]], 1.0),
        _l2_case("biases included: a kernel (2, 1, 2, 2) and a bias [3, -4], weight_decay = 0.5",
                 [np.arange(8.0).reshape(2, 1, 2, 2) - 4.0, [3.0, -4.0]], 0.5),
    ]


def _l2_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("formula", "every", "grads", "unchanged", "returns")
    return [
        _l2_case("an MLP's weights and biases", [rng.normal(size=(5, 4)), rng.normal(size=4),
                                                 rng.normal(size=(4, 3)), rng.normal(size=3)],
                 0.01, covers=every),
        _l2_case("convolution weights (4-D) and a bias", [rng.normal(size=(3, 2, 3, 3)),
                                                          rng.normal(size=3)], 0.5,
                 covers=every),
        _l2_case("one array", [rng.normal(size=(6, 2))], 2.0,
                 covers=("formula", "grads", "unchanged", "returns")),
        _l2_case("weight_decay = 0", [rng.normal(size=(2, 2)), rng.normal(size=2)], 0.0,
                 covers=("formula", "grads", "returns")),
        _l2_case("huge (1e6) and tiny (1e-8) weights", [rng.normal(size=(3, 3)) * 1e6,
                                                        rng.normal(size=5) * 1e-8], 1e-4,
                 covers=every),
    ]


def _l2_oracle(case: Case) -> dict[str, Any]:
    params = [torch.tensor(a, requires_grad=True) for a in case.args[0]]
    penalty = 0.5 * case.args[1] * sum((p**2).sum() for p in params)
    grads = torch.autograd.grad(penalty, params)
    return {"penalty": float(penalty.detach()), "grads": [g.numpy().copy() for g in grads]}


def _l2_call(impl: Callable, case: Case) -> dict[str, Any]:
    penalty, grads = unpack(_call_unchanged("l2_penalty", impl, case.args, dict(case.kwargs),
                                             case.label), ("penalty", "grads"), "l2_penalty")
    return {"penalty": penalty, "grads": grads}


def _l2_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    penalty = require_number(got["penalty"], "penalty")
    want = expected["penalty"]
    if abs(penalty - want) > RTOL * abs(want) + 1e-300:
        hint = ""
        if want and abs(penalty - 2 * want) <= 1e-8 * abs(want):
            hint = " (twice the expected value: the factor 0.5 is missing?)"
        raise CheckFailure(f"expected penalty {want!r}, got {penalty!r}{hint}")
    grads = got["grads"]
    if not isinstance(grads, list) or len(grads) != len(expected["grads"]):
        raise CheckFailure(f"expected grads to be a list of {len(expected['grads'])} arrays, one "
                           f"per parameter array, got {type(grads).__name__}"
                           + (f" of length {len(grads)}" if isinstance(grads, (list, tuple))
                              else ""))
    for k, (mine, want_k) in enumerate(zip(grads, expected["grads"], strict=True)):
        _check_close(mine, want_k, f"grads[{k}]")


l2_penalty = Exercise(
    name="l2_penalty",
    visible=_l2_visible,
    hidden=_l2_hidden,
    oracle=_l2_oracle,
    compare=_l2_compare,
    call=_l2_call,
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "formula": "penalty = 0.5 * weight_decay * (sum of the squares of every entry of every "
                   "array)",
        "every": "over every array of the list, biases included",
        "grads": "grads[k] = weight_decay * params[k]",
        "unchanged": "The list and its arrays are left unchanged.",
        "returns": "grads is a list of new float64 arrays, grads[k] of params[k]'s shape",
    },
)


# ---------------------------------------------------------------------------------------------
# sgd_weight_decay_step and adamw_step: trajectories of several steps
# ---------------------------------------------------------------------------------------------


def _steps_case(label: str, w0: Any, grads: Sequence[Any], state: int = 0,
                state0: Sequence[Any] | None = None, t0: int = 1,
                covers: tuple[str, ...] = (), **hyper: Any) -> Case:
    """A trajectory from ``w0`` (and ``state`` state arrays, zeros by default), one step per
    gradient of ``grads``, hyperparameters passed by keyword."""
    w0 = np.asarray(w0, dtype=np.float64)
    grads = [np.broadcast_to(np.asarray(g, dtype=np.float64), w0.shape).copy() for g in grads]
    if state0 is None:
        state0 = [np.zeros_like(w0) for _ in range(state)]
    state0 = tuple(np.asarray(s, dtype=np.float64) for s in state0)
    return Case(label, (), hyper, data={"w0": w0, "grads": grads, "state0": state0, "t0": t0},
                covers=covers)


def _steps_call(name: str, state: tuple[str, ...], uses_t: bool
                ) -> Callable[[Callable, Case], list[Any]]:
    """Call a step function once per gradient, feeding its result back in; return the raw
    result of every step. Stops early on a malformed result; fails when an input is modified."""

    def call(impl: Callable, case: Case) -> list[Any]:
        w = case.data["w0"].copy()
        states = [s.copy() for s in case.data["state0"]]
        results = []
        for k, grad in enumerate(case.data["grads"]):
            t = case.data["t0"] + k
            args = (w, grad, *states) + ((t,) if uses_t else ())
            result = _call_unchanged(name, impl, args, dict(case.kwargs),
                                     f"{case.label}, step {k + 1}")
            results.append(result)
            arrays = (result,) if not state else result
            if not isinstance(arrays, (tuple, list)) or len(arrays) != 1 + len(state) or not all(
                    type(a) is np.ndarray and a.shape == w.shape for a in arrays):
                break
            w, *states = (np.array(a, dtype=np.float64) for a in arrays)
        return results

    return call


def _steps_compare(state: tuple[str, ...]) -> Callable[[list[Any], list[dict], Case], None]:
    """Compare every step's ``w`` (and state) with the oracle's trajectory."""

    def compare(got: list[Any], expected: list[dict[str, np.ndarray]], case: Case) -> None:
        def first_step(values: tuple, where: str) -> None:
            _decay_in_moments_hint(values[1], case, where)

        compare_trajectory(got, expected, ("w", *state), case.data["w0"].shape,
                           atol_factor=ATOL_FACTOR, rtol=RTOL,
                           t0=case.data["t0"] if state else None, require=require_float64,
                           first_step=first_step if state else None)

    return compare


def _decay_in_moments_hint(m: Any, case: Case, where: str) -> None:
    """Name the classic mistake: a first moment that saw ``dw + weight_decay * w`` (Adam + L2)."""
    kw, data = case.kwargs, case.data
    weight_decay, beta1 = kw.get("weight_decay", 1e-2), kw.get("beta1", 0.9)
    if not weight_decay or type(m) is not np.ndarray or m.shape != data["w0"].shape:
        return
    coupled = beta1 * data["state0"][0] + (1 - beta1) * (data["grads"][0]
                                                           + weight_decay * data["w0"])
    decoupled = beta1 * data["state0"][0] + (1 - beta1) * data["grads"][0]
    if np.allclose(m, coupled, rtol=1e-9, atol=0) and not np.allclose(m, decoupled, rtol=1e-9,
                                                                         atol=0):
        raise CheckFailure(f"{where}, m: the weight decay entered the moments (m saw dw + "
                           "weight_decay * w): that is Adam with an L2 penalty. AdamW shrinks w "
                           "directly; m and v see dw alone")


def _normal(rng: np.random.Generator, shape: tuple[int, ...], num_steps: int,
            scale: float = 1.0) -> list[np.ndarray]:
    return [rng.normal(size=shape) * scale for _ in range(num_steps)]


def _torch_trajectory(case: Case, optimizer: Any, p: torch.Tensor,
                      state_keys: tuple[str, ...], names: tuple[str, ...]) -> list[dict]:
    state = optimizer.state[p]
    if state_keys:
        state["step"] = torch.tensor(float(case.data["t0"] - 1), dtype=torch.float32)
        for key, value in zip(state_keys, case.data["state0"], strict=True):
            state[key] = torch.tensor(value, dtype=torch.float64)
    trajectory = []
    for grad in case.data["grads"]:
        p.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
        record = {"w": p.detach().numpy().copy()}
        for key, name in zip(state_keys, names, strict=True):
            record[name] = state[key].numpy().copy()
        trajectory.append(record)
    return trajectory


def _sgd_visible() -> list[Case]:
    rng = np.random.default_rng(61)
    return [
        _steps_case("3 steps, lr = 0.1, weight_decay = 0.01", rng.normal(size=3),
                    _normal(rng, (3,), 3), lr=0.1, weight_decay=0.01),
        _steps_case("zero gradient: w shrinks by the factor 1 - lr * weight_decay = 0.95 per "
                    "step", [1.0, -2.0], [[0.0, 0.0]] * 3, lr=0.5, weight_decay=0.1),
        _steps_case("weight_decay = 0: plain SGD, w - lr * dw", [[0.5, -1.0], [2.0, 0.0]],
                    [[[1.0, 0.0], [-2.0, 0.5]], [[0.5, 0.5], [0.0, -1.0]]], lr=0.2,
                    weight_decay=0.0),
    ]


def _sgd_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("formula", "before", "unchanged", "returns")
    return [
        _steps_case("10 steps, 1-D", rng.normal(size=5), _normal(rng, (5,), 10), lr=0.1,
                    weight_decay=0.05, covers=every),
        _steps_case("10 steps, 2-D, lr * weight_decay = 0.25", rng.normal(size=(3, 4)),
                    _normal(rng, (3, 4), 10), lr=0.5, weight_decay=0.5, covers=every),
        _steps_case("weight_decay = 0 is plain SGD", rng.normal(size=4), _normal(rng, (4,), 5),
                    lr=0.1, weight_decay=0.0, covers=("formula", "returns")),
        _steps_case("zero gradients: only the decay moves w", rng.normal(size=(2, 3)),
                    [np.zeros((2, 3))] * 6, lr=0.3, weight_decay=0.2,
                    covers=("formula", "before")),
        _steps_case("tiny gradients ~1e-10 and huge weights ~1e6", rng.normal(size=4) * 1e6,
                    _normal(rng, (4,), 8, 1e-10), lr=0.01, weight_decay=1e-3,
                    covers=("formula", "before", "returns")),
        _steps_case("huge gradients ~1e6", rng.normal(size=3), _normal(rng, (3,), 8, 1e6),
                    lr=1e-7, weight_decay=0.1, covers=("formula", "unchanged")),
    ]


def _sgd_oracle(case: Case) -> list[dict[str, np.ndarray]]:
    p = torch.tensor(case.data["w0"], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=case.kwargs["lr"],
                                weight_decay=case.kwargs["weight_decay"], foreach=False)
    return _torch_trajectory(case, optimizer, p, (), ())


sgd_weight_decay_step = Exercise(
    name="sgd_weight_decay_step",
    visible=_sgd_visible,
    hidden=_sgd_hidden,
    oracle=_sgd_oracle,
    compare=_steps_compare(()),
    call=_steps_call("sgd_weight_decay_step", (), False),
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "formula": "w_new = w - lr * (dw + weight_decay * w)",
        "before": "the decay is added to the gradient at the w passed in (before this step)",
        "unchanged": "Must be left unchanged.",
        "returns": "a new float64 array of w's shape",
    },
)


_ADAMW_STATE = ("m", "v")


def _adamw_visible() -> list[Case]:
    rng = np.random.default_rng(62)
    return [
        _steps_case("zero gradient: only the decoupled decay moves w (a factor 1 - lr * "
                    "weight_decay = 0.95 per step)", [1.0, -2.0, 0.5], [[0.0, 0.0, 0.0]] * 4,
                    state=2, lr=0.1, weight_decay=0.5),
        _steps_case("first step (t = 1) from m = v = 0, default hyperparameters",
                    [1.0, -2.0, 0.5], [[0.3, -0.1, 2.0]], state=2),
        _steps_case("5 steps in 2-D, lr = 0.01, weight_decay = 0.1", rng.normal(size=(2, 3)),
                    _normal(rng, (2, 3), 5), state=2, lr=0.01, weight_decay=0.1),
    ]


def _adamw_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("decoupled", "decay_first", "moments", "bias_correction", "eps", "state",
             "unchanged", "returns")
    n = 10
    return [
        _steps_case("all hyperparameters at their defaults", rng.normal(size=4),
                    _normal(rng, (4,), n), state=2, covers=("decoupled", "moments", "returns")),
        _steps_case("10 steps, 1-D, lr = 0.1, weight_decay = 0.5", rng.normal(size=5),
                    _normal(rng, (5,), n), state=2, lr=0.1, weight_decay=0.5, covers=every),
        _steps_case("10 steps, 2-D, betas (0.8, 0.95), eps = 1e-6", rng.normal(size=(3, 4)),
                    _normal(rng, (3, 4), n), state=2, lr=0.05, beta1=0.8, beta2=0.95, eps=1e-6,
                    weight_decay=0.2, covers=every),
        _steps_case("zero gradients: w decays by 1 - lr * weight_decay per step",
                    rng.normal(size=3) * 5, [np.zeros(3)] * 5, state=2, lr=0.2,
                    weight_decay=0.3, covers=("decoupled", "moments", "decay_first")),
        _steps_case("tiny gradients ~1e-10 (where eps goes matters)", rng.normal(size=6),
                    _normal(rng, (6,), n, 1e-10), state=2, lr=0.1, weight_decay=0.01,
                    covers=("eps", "moments", "bias_correction")),
        _steps_case("huge gradients ~1e6", rng.normal(size=4) * 10.0, _normal(rng, (4,), n, 1e6),
                    state=2, lr=0.5, weight_decay=0.1,
                    covers=("decoupled", "bias_correction", "state")),
        _steps_case("resuming at t = 4 with nonzero m and v", rng.normal(size=4),
                    _normal(rng, (4,), 7), state0=[rng.normal(size=4) * 0.3,
                                                   rng.uniform(0.05, 1.0, 4)],
                    t0=4, lr=0.02, weight_decay=0.1,
                    covers=("bias_correction", "state", "decoupled", "unchanged")),
        _steps_case("weight_decay = 0 is Adam", rng.normal(size=3), _normal(rng, (3,), 6),
                    state=2, lr=0.01, weight_decay=0.0,
                    covers=("bias_correction", "eps", "state")),
    ]


def _adamw_oracle(case: Case) -> list[dict[str, np.ndarray]]:
    kw = case.kwargs
    p = torch.tensor(case.data["w0"], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.AdamW([p], lr=kw.get("lr", 1e-3),
                                  betas=(kw.get("beta1", 0.9), kw.get("beta2", 0.999)),
                                  eps=kw.get("eps", 1e-8),
                                  weight_decay=kw.get("weight_decay", 1e-2), foreach=False)
    return _torch_trajectory(case, optimizer, p, ("exp_avg", "exp_avg_sq"), _ADAMW_STATE)


adamw_step = Exercise(
    name="adamw_step",
    visible=_adamw_visible,
    hidden=_adamw_hidden,
    oracle=_adamw_oracle,
    compare=_steps_compare(_ADAMW_STATE),
    call=_steps_call("adamw_step", _ADAMW_STATE, True),
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "decoupled": "w is multiplied by (1 - lr * weight_decay)",
        "decay_first": "w_new = w * (1 - lr * weight_decay) - lr * m_hat / (sqrt(v_hat) + eps)",
        "moments": "The decay never enters the moments: m and v see dw alone",
        "bias_correction": "m_hat = m_new / (1 - beta1**t) v_hat = v_new / (1 - beta2**t)",
        "eps": "eps is added to sqrt(v_hat) (not inside the square root)",
        "state": "The returned state is m_new and v_new, not the bias-corrected values.",
        "unchanged": "Must be left unchanged.",
        "returns": "new float64 arrays of w's shape",
    },
)


# ---------------------------------------------------------------------------------------------
# dropout_forward and dropout_backward
# ---------------------------------------------------------------------------------------------


def _dropout_case(label: str, rng: np.random.Generator, shape: tuple[int, ...], p: float,
                  training: bool, covers: tuple[str, ...] = ()) -> Case:
    x = rng.normal(size=shape)
    varies = training and p > 0 and _agreement(p, x.size) < FALSE_ALARM
    return Case(label, (x, float(p), training), data={"seed": _seed(rng), "varies": varies},
                covers=covers)


def _dropout_visible() -> list[Case]:
    rng = np.random.default_rng(63)
    return [
        _dropout_case("training, p = 0.8: 80 % of the 10000 entries dropped", rng, (200, 50),
                      0.8, True),
        _dropout_case("training, p = 0.25, x of shape (4, 5)", rng, (4, 5), 0.25, True),
        _dropout_case("evaluation: nothing dropped, mask None", rng, (3, 4), 0.5, False),
    ]


def _dropout_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("drop_prob", "independent", "scale", "mask", "rng", "unchanged", "returns")
    return [
        _dropout_case("training, p = 0.3, x of shape (200, 50)", rng, (200, 50), 0.3, True,
                      covers=every),
        _dropout_case("training, p = 0.5, 4-D x of shape (20, 3, 8, 8)", rng, (20, 3, 8, 8),
                      0.5, True, covers=every),
        _dropout_case("training, p = 0.05", rng, (100, 100), 0.05, True,
                      covers=("drop_prob", "independent", "scale", "mask", "rng")),
        _dropout_case("training, p = 0.9", rng, (100, 100), 0.9, True,
                      covers=("drop_prob", "independent", "scale", "mask", "rng")),
        _dropout_case("training, a small x of shape (3, 2)", rng, (3, 2), 0.4, True,
                      covers=("scale", "mask", "returns", "unchanged")),
        _dropout_case("evaluation, p = 0.5", rng, (30, 20), 0.5, False,
                      covers=("eval", "returns", "unchanged", "rng")),
        _dropout_case("training with p = 0", rng, (30, 20), 0.0, True,
                      covers=("p_zero", "returns", "rng")),
    ]


def _dropout_oracle(case: Case) -> dict[str, Any]:
    x, p, training = case.args
    if not training or p == 0:
        out = F.dropout(torch.from_numpy(x.copy()), p=p, training=training)
        return {"out": out.numpy(), "scale": None}
    return {"out": None, "scale": 1.0 / (1.0 - p)}


def _check_mask(mask: Any, scale: float, shape: tuple[int, ...], p: float, what: str,
                entries: str) -> None:
    """A float64 mask dropping its entries independently (the rate check assumes it), a
    fraction p of them (within Hoeffding's bound), of values 0 and ``scale`` only."""
    if mask is None:
        raise CheckFailure(f"in training with p > 0 the {what} must be an array, got None")
    require_float64(mask, shape, what)
    dropped = mask == 0
    _check_independent(dropped.reshape(shape[0], -1), p, what)
    _check_rate(int(dropped.sum()), dropped.size, p, f"{entries} dropped (zeros in the {what})",
                " (p is the probability of dropping, PyTorch's convention)")
    kept = mask[~dropped]
    if kept.size and not np.allclose(kept, scale, rtol=1e-12, atol=0.0):
        values = np.unique(mask)[:4].tolist()
        hint = (" (the kept entries are not scaled by 1 / (1 - p)?)"
                if np.allclose(kept, 1.0) else "")
        raise CheckFailure(f"the {what} must hold only 0 (dropped) and 1 / (1 - p) = "
                           f"{scale:.6g} (kept), got values {values}{hint}")


def _dropout_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    x, p, training = case.args
    out, mask = got["out"], got["mask"]
    require_float64(out, x.shape, "out")
    if expected["out"] is not None:
        when = "in evaluation (training=False)" if not training else "with p = 0"
        if mask is not None:
            raise CheckFailure(f"{when} mask must be None (nothing is dropped)")
        if not np.array_equal(out, expected["out"]):
            raise CheckFailure(f"{when} out must equal x: nothing is dropped, got "
                               f"{np.count_nonzero(out != x)} entries that differ")
        _check_rng(got, case, "dropout_forward")
        return
    _check_mask(mask, expected["scale"], x.shape, p, "mask", "entries")
    try:
        assert_close(out, x * mask, atol=1e-300, rtol=1e-12)
    except CheckFailure as failure:
        raise CheckFailure(f"out must equal x * mask: {failure}") from None
    _check_rng(got, case, "dropout_forward")


dropout_forward = Exercise(
    name="dropout_forward",
    visible=_dropout_visible,
    hidden=_dropout_hidden,
    oracle=_dropout_oracle,
    compare=_dropout_compare,
    call=_random_call("dropout_forward", ("out", "mask")),
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "drop_prob": "each entry of x is dropped (set to 0) with probability p",
        "independent": "independently of the others",
        "scale": "the kept entries are multiplied by 1 / (1 - p)",
        "mask": "mask, of x's shape, holds 0 where an entry is dropped and 1 / (1 - p) where it "
                "is kept: out = x * mask",
        "rng": "All the randomness comes from rng",
        "eval": "In evaluation (training=False) nothing is dropped: out = x (x itself or a "
                "copy) and mask = None.",
        "p_zero": "With p = 0 too, out = x and mask = None.",
        "unchanged": "x is left unchanged",
        "returns": "out is a float64 array of x's shape",
    },
)


def _dropout_backward_case(label: str, rng: np.random.Generator, shape: tuple[int, ...],
                           p: float | None, covers: tuple[str, ...] = ()) -> Case:
    dout = rng.normal(size=shape)
    mask = None if p is None else (rng.random(shape) >= p) / (1.0 - p)
    return Case(label, (dout, mask), covers=covers)


def _dropout_backward_visible() -> list[Case]:
    rng = np.random.default_rng(64)
    return [
        _dropout_backward_case("p = 0.5: the mask holds 0 and 2", rng, (4, 5), 0.5),
        _dropout_backward_case("mask = None (evaluation)", rng, (3, 3), None),
        _dropout_backward_case("p = 0.75, 3-D: the kept entries pass 4 times the gradient",
                               rng, (2, 3, 4), 0.75),
    ]


def _dropout_backward_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("chain", "unchanged", "returns")
    return [
        _dropout_backward_case("p = 0.3, shape (20, 10)", rng, (20, 10), 0.3, covers=every),
        _dropout_backward_case("p = 0.9, 4-D", rng, (2, 3, 4, 4), 0.9, covers=every),
        _dropout_backward_case("p = 0.05", rng, (50,), 0.05, covers=every),
        _dropout_backward_case("mask = None", rng, (6, 4), None,
                               covers=("none", "unchanged", "returns")),
    ]


def _dropout_backward_oracle(case: Case) -> np.ndarray:
    dout, mask = case.args
    x = torch.zeros(dout.shape, dtype=torch.float64, requires_grad=True)
    out = x if mask is None else x * torch.from_numpy(mask)
    (dx,) = torch.autograd.grad(out, x, torch.from_numpy(dout))
    return dx.numpy()


def _dropout_backward_call(impl: Callable, case: Case) -> Any:
    return _call_unchanged("dropout_backward", impl, case.args, dict(case.kwargs), case.label)


def _dropout_backward_compare(got: Any, expected: np.ndarray, case: Case) -> None:
    if got is None:
        raise CheckFailure("expected dx, a float64 array of dout's shape, got None")
    _check_close(got, expected, "dx")


dropout_backward = Exercise(
    name="dropout_backward",
    visible=_dropout_backward_visible,
    hidden=_dropout_backward_hidden,
    oracle=_dropout_backward_oracle,
    compare=_dropout_backward_compare,
    call=_dropout_backward_call,
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "chain": "dx = dout * mask",
        "none": "With mask = None (evaluation, or p = 0), dx = dout",
        "unchanged": "dout and mask are left unchanged",
        "returns": "a float64 array of dout's shape",
    },
)


# ---------------------------------------------------------------------------------------------
# dropconnect_forward
# ---------------------------------------------------------------------------------------------


def _dropconnect_case(label: str, rng: np.random.Generator, n: int, d: int, k: int, p: float,
                      training: bool, covers: tuple[str, ...] = ()) -> Case:
    x = rng.normal(size=(n, d))
    W = rng.normal(size=(d, k)) / np.sqrt(d)
    b = rng.normal(size=k)
    varies = training and p > 0 and _agreement(p, W.size) < FALSE_ALARM
    return Case(label, (x, W, b, float(p), training), data={"seed": _seed(rng), "varies": varies},
                covers=covers)


def _dropconnect_visible() -> list[Case]:
    rng = np.random.default_rng(65)
    return [
        _dropconnect_case("training, p = 0.25, W of shape (100, 100), a batch of 8", rng, 8,
                          100, 100, 0.25, True),
        _dropconnect_case("evaluation, p = 0.5", rng, 4, 5, 3, 0.5, False),
        _dropconnect_case("training with p = 0: nothing dropped, M = None", rng, 3, 4, 2, 0.0,
                          True),
    ]


def _dropconnect_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("shared", "drop_prob", "independent", "scale", "formula", "rng", "unchanged",
             "returns")
    return [
        _dropconnect_case("training, p = 0.3, W (100, 100), a batch of 16", rng, 16, 100, 100,
                          0.3, True, covers=every),
        _dropconnect_case("training, p = 0.8, W (120, 90), a batch of 5", rng, 5, 120, 90, 0.8,
                          True, covers=every),
        _dropconnect_case("training, a small layer (D = 4, K = 2)", rng, 3, 4, 2, 0.5, True,
                          covers=("shared", "scale", "formula", "returns", "unchanged")),
        _dropconnect_case("evaluation, p = 0.5", rng, 6, 10, 7, 0.5, False,
                          covers=("eval", "returns", "unchanged", "rng")),
        _dropconnect_case("training with p = 0", rng, 6, 10, 7, 0.0, True,
                          covers=("p_zero", "returns", "rng")),
    ]


def _dropconnect_oracle(case: Case) -> dict[str, Any]:
    x, W, b, p, training = case.args
    if not training or p == 0:
        out = F.linear(torch.from_numpy(x), torch.from_numpy(W.T.copy()), torch.from_numpy(b))
        return {"out": out.numpy(), "scale": None}
    return {"out": None, "scale": 1.0 / (1.0 - p)}


def _dropconnect_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    x, W, b, p, training = case.args
    out, M = got["out"], got["M"]
    require_float64(out, (x.shape[0], W.shape[1]), "out")
    if expected["out"] is not None:
        when = "in evaluation (training=False)" if not training else "with p = 0"
        if M is not None:
            raise CheckFailure(f"{when} M must be None (nothing is dropped)")
        try:
            _check_close(out, expected["out"], "out")
        except CheckFailure as failure:
            raise CheckFailure(f"{when} out must be x @ W + b: {failure}") from None
        _check_rng(got, case, "dropconnect_forward")
        return
    if isinstance(M, np.ndarray) and M.shape != W.shape:
        raise CheckFailure(f"M must be a mask of W's shape {W.shape} (DropConnect drops "
                           f"weights, not activations), got shape {M.shape}")
    _check_mask(M, expected["scale"], W.shape, p, "mask M", "weights")
    masked = W * M
    want = x @ masked + b
    bound = 1e-12 * (np.abs(x) @ np.abs(masked) + np.abs(b)) + 1e-300
    bad = np.abs(out - want) > bound
    if not np.all(np.isfinite(out)) or bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        hint = (" (one mask per call, shared by every example of the batch)"
                if 0 < rows.size < out.shape[0] else "")
        raise CheckFailure(f"out must equal x @ (W * M) + b with the returned M: rows "
                           f"{rows[:5].tolist()} differ{hint}")
    _check_rng(got, case, "dropconnect_forward")


dropconnect_forward = Exercise(
    name="dropconnect_forward",
    visible=_dropconnect_visible,
    hidden=_dropconnect_hidden,
    oracle=_dropconnect_oracle,
    compare=_dropconnect_compare,
    call=_random_call("dropconnect_forward", ("out", "M")),
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "shared": "one mask per call, shared by every example of the batch",
        "drop_prob": "each weight is dropped (M = 0) with probability p",
        "independent": "independently of the others",
        "scale": "kept with M = 1 / (1 - p)",
        "formula": "out = x @ (W * M) + b",
        "rng": "All the randomness comes from rng",
        "eval": "In evaluation (training=False) nothing is dropped: out = x @ W + b and "
                "M = None.",
        "p_zero": "With p = 0 too, out = x @ W + b and M = None.",
        "unchanged": "x, W and b are left unchanged",
        "returns": "out is a float64 array of shape (N, K)",
    },
)


# ---------------------------------------------------------------------------------------------
# random_horizontal_flip
# ---------------------------------------------------------------------------------------------


def _flip_case(label: str, rng: np.random.Generator, shape: tuple[int, ...], p: float,
               covers: tuple[str, ...] = ()) -> Case:
    images = rng.normal(size=shape)
    varies = 0 < p < 1 and _agreement(p, shape[0]) < FALSE_ALARM
    return Case(label, (images, float(p)), data={"seed": _seed(rng), "varies": varies},
                covers=covers)


def _flip_visible() -> list[Case]:
    rng = np.random.default_rng(66)
    return [
        _flip_case("p = 0.2, 1000 images of shape (2, 3, 4)", rng, (1000, 2, 3, 4), 0.2),
        _flip_case("p = 0: nothing flipped, but a new array", rng, (3, 1, 2, 3), 0.0),
        _flip_case("p = 1: every image flipped, all its channels together", rng, (4, 3, 2, 3),
                   1.0),
    ]


def _flip_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("probability", "independent", "axis", "channels", "rng", "unchanged", "new_array",
             "returns")
    return [
        _flip_case("p = 0.3, 2000 images of shape (3, 4, 5)", rng, (2000, 3, 4, 5), 0.3,
                   covers=every),
        _flip_case("p = 0.5, 500 images of shape (2, 5, 6)", rng, (500, 2, 5, 6), 0.5,
                   covers=every),
        _flip_case("p = 0.9, 1000 one-channel images", rng, (1000, 1, 3, 3), 0.9,
                   covers=("probability", "independent", "axis", "rng")),
        _flip_case("p = 0: nothing flipped", rng, (20, 3, 4, 4), 0.0,
                   covers=("probability", "new_array", "returns", "unchanged", "rng")),
        _flip_case("p = 1: every image flipped", rng, (20, 2, 3, 5), 1.0,
                   covers=("probability", "axis", "channels", "new_array", "unchanged")),
        _flip_case("a batch of 3 images", rng, (3, 3, 2, 4), 0.5,
                   covers=("axis", "channels", "returns")),
    ]


def _flip_oracle(case: Case) -> dict[str, Any]:
    return {"probability": case.args[1]}


def _flip_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    images = case.args[0]
    out = got["out"]
    require_float64(out, images.shape, "result")
    _check_new_array(got, "result")
    n = images.shape[0]
    unchanged = np.all((out == images).reshape(n, -1), axis=1)
    flipped = np.all((out == images[..., ::-1]).reshape(n, -1), axis=1)
    bad = np.flatnonzero(~(unchanged | flipped))
    if bad.size:
        i = int(bad[0])
        hint = ""
        if np.array_equal(out[i], images[i, :, ::-1, :]):
            hint = " (it is flipped vertically, along H: flip along the last axis, W)"
        elif all(np.array_equal(out[i, c], images[i, c]) or
                 np.array_equal(out[i, c], images[i, c, :, ::-1])
                 for c in range(images.shape[1])):
            hint = " (some channels are flipped and others not: flip all channels together)"
        raise CheckFailure(f"image {i} is neither unchanged nor flipped left-right "
                           f"(images[{i}, :, :, ::-1]); {bad.size} such images{hint}")
    _check_rate(int(flipped.sum()), n, expected["probability"], "images flipped",
                " (each image is flipped independently, with probability p)")
    _check_rng(got, case, "random_horizontal_flip")


random_horizontal_flip = Exercise(
    name="random_horizontal_flip",
    visible=_flip_visible,
    hidden=_flip_hidden,
    oracle=_flip_oracle,
    compare=_flip_compare,
    call=_random_call("random_horizontal_flip", ("out",)),
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "independent": "Each image is flipped independently of the others",
        "probability": "with probability p",
        "axis": "flipped along its last axis (W: left and right swapped, images[n, :, :, ::-1])",
        "channels": "all its channels together",
        "rng": "All the randomness comes from rng",
        "unchanged": "images is left unchanged",
        "new_array": "never images itself or a view of it, even when nothing is flipped",
        "returns": "a new float64 array of images' shape",
    },
)


# ---------------------------------------------------------------------------------------------
# random_crop
# ---------------------------------------------------------------------------------------------


def _crop_case(label: str, rng: np.random.Generator, shape: tuple[int, ...], size: int,
               padding: int, covers: tuple[str, ...] = ()) -> Case:
    """Images whose pixels are all different and nonzero, so that each crop shows its offset."""
    n, _, h, w = shape
    assert size > padding, "a crop must hold a pixel of the image to identify its offset"
    images = rng.permutation(int(np.prod(shape))).reshape(shape) + 1.0
    offsets = (h + 2 * padding - size + 1) * (w + 2 * padding - size + 1)
    reach = offsets * (1.0 - 1.0 / offsets) ** n < FALSE_ALARM
    varies = offsets > 1 and offsets ** -float(n) < FALSE_ALARM
    return Case(label, (images, size, padding),
                data={"seed": _seed(rng), "varies": varies, "reach": reach}, covers=covers)


def _crop_visible() -> list[Case]:
    rng = np.random.default_rng(67)
    return [
        _crop_case("1000 images 4 x 4, padding 1, size 4: offsets 0, 1 and 2 on each axis", rng,
                   (1000, 1, 4, 4), 4, 1),
        _crop_case("padding 0 and size = H = W: the only offset is 0", rng, (3, 2, 3, 3), 3, 0),
        _crop_case("padding 1 around 1 x 1 images, size 2: 4 offsets, each crop the pixel and "
                   "3 zeros (110 images)", rng, (110, 1, 1, 1), 2, 1),
    ]


def _crop_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("padding", "per_image", "channels", "uniform", "rng", "unchanged", "new_array",
             "returns")
    return [
        _crop_case("1000 images 2 x 8 x 8, padding 2, size 8 (25 offsets)", rng,
                   (1000, 2, 8, 8), 8, 2, covers=every),
        _crop_case("non-square images 6 x 9, padding 1, size 5 (28 offsets)", rng,
                   (1000, 3, 6, 9), 5, 1, covers=every),
        _crop_case("padding 0, 7 x 7 images, size 5 (9 offsets)", rng, (500, 1, 7, 7), 5, 0,
                   covers=("per_image", "uniform", "rng", "new_array", "returns")),
        _crop_case("padding 0 and size = H = W: only offset 0", rng, (10, 3, 4, 4), 4, 0,
                   covers=("new_array", "returns", "unchanged", "rng")),
        _crop_case("padding 3, size 4 on 2 x 2 images (25 offsets)", rng, (1000, 2, 2, 2), 4, 3,
                   covers=("padding", "uniform", "channels", "per_image")),
    ]


def _crop_oracle(case: Case) -> dict[str, Any]:
    images, size, padding = case.args
    padded = F.pad(torch.from_numpy(images), (padding,) * 4)
    return {"padded": padded.numpy()}


def _crop_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    images, size, padding = case.args
    n, c = images.shape[:2]
    out = got["out"]
    require_float64(out, (n, c, size, size), "result")
    _check_new_array(got, "result")
    padded = expected["padded"]
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(2, 3))
    # matches[n, i, j]: out[n] is the window at offset (i, j) of image n, every channel
    matches = np.all(windows == out[:, :, None, None], axis=(1, 4, 5))
    found = matches.reshape(n, -1).any(axis=1)
    if not found.all():
        i = int(np.flatnonzero(~found)[0])
        per_channel = all(
            np.any(np.all(windows[i, ch] == out[i, ch, None, None], axis=(2, 3)))
            for ch in range(c))
        hint = (" (each channel is a window of its own, at different offsets: cut the same "
                "window from every channel)" if per_channel else
                f" (pad H and W with {padding} zeros on each side, then cut a size x size "
                "window: out[n] = padded[n, :, i:i + size, j:j + size])")
        raise CheckFailure(f"crop {i} is not a {size} x {size} window of the zero-padded image "
                           f"{i}; {int((~found).sum())} such crops{hint}")
    counts = matches.sum(axis=0)
    if case.data["reach"] and not counts.all():
        missing = [(int(a), int(b)) for a, b in np.argwhere(counts == 0)[:4]]
        last = (counts.shape[0] - 1, counts.shape[1] - 1)
        raise CheckFailure(f"the offsets (i, j) in {missing} were never drawn in {n} crops, "
                           f"where each of the {counts.size} offsets is drawn "
                           f"{n / counts.size:.0f} times on average: every offset from (0, 0) "
                           f"to {last} must be possible, independently for each image "
                           "(rng.integers(low, high) excludes high)")
    _check_rng(got, case, "random_crop")


random_crop = Exercise(
    name="random_crop",
    visible=_crop_visible,
    hidden=_crop_hidden,
    oracle=_crop_oracle,
    compare=_crop_compare,
    call=_random_call("random_crop", ("out",)),
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "padding": "zero-padded by padding on each side of H and W",
        "per_image": "independently for each image",
        "channels": "the same window for every channel of the image",
        "uniform": "every offset from 0 to H + 2 * padding - size (for i) and W + 2 * padding - "
                   "size (for j), both included, is equally likely",
        "rng": "All the randomness comes from rng",
        "unchanged": "images is left unchanged",
        "new_array": "never a view of images (also with padding = 0)",
        "returns": "a new float64 array of shape (N, C, size, size)",
    },
)


# ---------------------------------------------------------------------------------------------
# stochastic_depth
# ---------------------------------------------------------------------------------------------


def _depth_case(label: str, rng: np.random.Generator, shape: tuple[int, ...], p: float,
                training: bool, covers: tuple[str, ...] = ()) -> Case:
    x = rng.normal(size=shape)
    residual = rng.normal(size=shape) + rng.choice([-1.0, 1.0], size=shape)
    varies = training and 0 < p < 1 and _agreement(p, shape[0]) < FALSE_ALARM
    return Case(label, (x, residual, float(p), training),
                data={"seed": _seed(rng), "varies": varies}, covers=covers)


def _depth_visible() -> list[Case]:
    rng = np.random.default_rng(68)
    return [
        _depth_case("training, p = 0.2, 1000 samples of 4 features", rng, (1000, 4), 0.2, True),
        _depth_case("evaluation: out = x + residual", rng, (3, 2, 2), 0.5, False),
        _depth_case("training with p = 1: the branch is always dropped, out = x (no division "
                    "by 0)", rng, (4, 2), 1.0, True),
    ]


def _depth_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("per_sample", "drop_prob", "scale", "row", "rng", "unchanged", "returns")
    return [
        _depth_case("training, p = 0.3, 2000 samples of shape (3, 4)", rng, (2000, 3, 4), 0.3,
                    True, covers=every),
        _depth_case("training, p = 0.5, 1000 samples of shape (2, 2, 2)", rng, (1000, 2, 2, 2),
                    0.5, True, covers=every),
        _depth_case("training, p = 0.1, 1000 samples of 5 features", rng, (1000, 5), 0.1, True,
                    covers=("per_sample", "drop_prob", "scale", "row", "rng")),
        _depth_case("training with p = 1: the branch is always dropped", rng, (50, 3), 1.0,
                    True, covers=("p_one", "returns")),
        _depth_case("training with p = 0: the branch is always kept", rng, (50, 3), 0.0, True,
                    covers=("scale", "drop_prob", "returns")),
        _depth_case("evaluation, p = 0.5", rng, (40, 2, 3), 0.5, False,
                    covers=("eval", "returns", "unchanged", "rng")),
    ]


def _depth_oracle(case: Case) -> dict[str, Any]:
    x, residual, p, training = case.args
    survival = 1.0 - p
    if not training or p == 0.0:
        return {"kept": x + residual, "dropped": None, "survival": 1.0}
    if survival == 0.0:  # torchvision: Bernoulli(0) noise, not divided
        return {"kept": None, "dropped": x.copy(), "survival": 0.0}
    branch = torch.from_numpy(residual) / survival
    return {"kept": (torch.from_numpy(x) + branch).numpy(), "dropped": x.copy(),
            "survival": survival}


def _depth_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    x, residual, p, training = case.args
    out = got["out"]
    require_float64(out, x.shape, "out")
    n = x.shape[0]
    if not np.all(np.isfinite(out)):
        raise CheckFailure("out holds NaN or inf" + (" (with p = 1 the branch is always "
                                                     "dropped: no division by 1 - p = 0)"
                                                     if p == 1 else ""))

    def matches(want: np.ndarray | None) -> np.ndarray:
        if want is None:
            return np.zeros(n, dtype=bool)
        factor = 1.0 / expected["survival"] if expected["survival"] > 0 else 1.0
        bound = 1e-12 * (np.abs(x) + np.abs(residual) * factor)
        return np.all((np.abs(out - want) <= bound + 1e-300).reshape(n, -1), axis=1)

    kept, dropped = matches(expected["kept"]), matches(expected["dropped"])
    bad = np.flatnonzero(~(kept | dropped))
    if bad.size:
        i = int(bad[0])
        if not training:
            hint = " (in evaluation out = x + residual)"
        elif np.allclose(out[i], x[i] + residual[i], rtol=1e-12, atol=0.0):
            hint = " (that is x + residual: divide the kept branch by 1 - p)"
        else:
            hint = (" (one draw per sample: its whole residual branch is kept, divided by "
                    "1 - p, or dropped)")
        raise CheckFailure(f"sample {i}: out[{i}] is neither x[{i}] + residual[{i}] / (1 - p) "
                           f"nor x[{i}]; {bad.size} such samples{hint}")
    if training:
        _check_rate(int(dropped.sum()), n, p, "samples with their branch dropped",
                    " (p is the probability of dropping the branch; one draw per sample)")
    _check_rng(got, case, "stochastic_depth")


stochastic_depth = Exercise(
    name="stochastic_depth",
    visible=_depth_visible,
    hidden=_depth_hidden,
    oracle=_depth_oracle,
    compare=_depth_compare,
    call=_random_call("stochastic_depth", ("out",)),
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "per_sample": "for each sample i (row: the first axis) independently",
        "drop_prob": "kept with probability 1 - p and dropped with probability p",
        "scale": "out[i] = x[i] + residual[i] * m_i / (1 - p)",
        "row": "one draw per sample, shared by all its entries",
        "p_one": "With p = 1 the branch is always dropped: out = x (no division by 0).",
        "rng": "All the randomness comes from rng",
        "eval": "In evaluation (training=False): out = x + residual.",
        "unchanged": "x and residual are left unchanged",
        "returns": "a new float64 array of x's shape",
    },
)


# ---------------------------------------------------------------------------------------------
# ema_update: several consecutive updates against get_ema_multi_avg_fn
# ---------------------------------------------------------------------------------------------


def _ema_case(label: str, rng: np.random.Generator, shapes: Sequence[tuple[int, ...]],
              decay: float, num_steps: int, scale: float = 1.0,
              covers: tuple[str, ...] = ()) -> Case:
    ema0 = [rng.normal(size=s) * scale for s in shapes]
    sequence = [[rng.normal(size=s) * scale for s in shapes] for _ in range(num_steps)]
    return Case(label, (), {"decay": float(decay)}, data={"ema0": ema0, "params": sequence},
                covers=covers)


def _ema_visible() -> list[Case]:
    rng = np.random.default_rng(69)
    return [
        _ema_case("decay = 0.9, a weight (2, 3) and a bias (3,), 3 updates", rng,
                  [(2, 3), (3,)], 0.9, 3),
        _ema_case("decay = 0.99, 5 updates", rng, [(4,)], 0.99, 5),
        _ema_case("decay = 0.5: halfway between the average and the parameters, 2 updates", rng,
                  [(2, 2), (2,)], 0.5, 2),
    ]


def _ema_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("formula", "unchanged", "returns")
    return [
        _ema_case("decay = 0.999, an MLP's parameters, 10 updates", rng,
                  [(5, 4), (4,), (4, 2), (2,)], 0.999, 10, covers=every),
        _ema_case("decay = 0.7, 4-D weights, 6 updates", rng, [(2, 3, 3, 3), (2,)], 0.7, 6,
                  covers=every),
        _ema_case("decay = 0: the average is the last parameters", rng, [(3, 2)], 0.0, 3,
                  covers=("formula", "returns")),
        _ema_case("decay = 1: the average never moves", rng, [(3,), (2, 2)], 1.0, 3,
                  covers=("formula", "unchanged")),
        _ema_case("huge (1e6) parameters, decay 0.95", rng, [(3, 3)], 0.95, 5, scale=1e6,
                  covers=("formula", "returns")),
    ]


def _ema_oracle(case: Case) -> list[list[np.ndarray]]:
    ema = [torch.tensor(a) for a in case.data["ema0"]]
    update = get_ema_multi_avg_fn(case.kwargs["decay"])
    trajectory = []
    for params in case.data["params"]:
        update(ema, [torch.tensor(a) for a in params], None)
        trajectory.append([e.numpy().copy() for e in ema])
    return trajectory


def _ema_call(impl: Callable, case: Case) -> list[Any]:
    ema = [a.copy() for a in case.data["ema0"]]
    results = []
    for k, params in enumerate(case.data["params"]):
        result = _call_unchanged("ema_update", impl, (ema, params), dict(case.kwargs),
                                 f"{case.label}, update {k + 1}")
        results.append(result)
        if not isinstance(result, list) or len(result) != len(ema) or not all(
                type(a) is np.ndarray and a.shape == e.shape for a, e in zip(result, ema,
                                                                            strict=True)):
            break
        ema = [np.array(a, dtype=np.float64) for a in result]
    return results


def _ema_compare(got: list[Any], expected: list[list[np.ndarray]], case: Case) -> None:
    for k, (result, want) in enumerate(zip(got, expected, strict=False)):
        where = f"after update {k + 1}"
        if not isinstance(result, list) or len(result) != len(want):
            raise CheckFailure(f"{where}: expected a new list of {len(want)} arrays, got "
                               f"{type(result).__name__}"
                               + (f" of length {len(result)}"
                                  if isinstance(result, (tuple, list)) else ""))
        for j, (mine, want_j) in enumerate(zip(result, want, strict=True)):
            try:
                _check_close(mine, want_j, f"ema_new[{j}]")
            except CheckFailure as failure:
                decay = case.kwargs["decay"]
                reversed_update = ((1 - decay) * case.data["ema0"][j]
                                   + decay * case.data["params"][0][j])
                hint = (" (that is (1 - decay) * ema + decay * params: decay is the weight of "
                        "the old average)" if k == 0 and isinstance(mine, np.ndarray)
                        and mine.shape == reversed_update.shape
                        and np.allclose(mine, reversed_update, rtol=1e-9, atol=0.0) else "")
                raise CheckFailure(f"{where}, {failure}{hint}") from None
    if len(got) < len(expected):
        raise CheckFailure(f"stopped after {len(got)} of {len(expected)} updates")


ema_update = Exercise(
    name="ema_update",
    visible=_ema_visible,
    hidden=_ema_hidden,
    oracle=_ema_oracle,
    compare=_ema_compare,
    call=_ema_call,
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "formula": "ema_new[k] = decay * ema_params[k] + (1 - decay) * params[k]",
        "unchanged": "The lists and their arrays are left unchanged.",
        "returns": "a new list of new float64 arrays, ema_new[k] of ema_params[k]'s shape",
    },
)


# ---------------------------------------------------------------------------------------------
# ensemble_predict
# ---------------------------------------------------------------------------------------------


def _ensemble_case(label: str, probs: Sequence[Any], covers: tuple[str, ...] = ()) -> Case:
    return Case(label, ([np.asarray(a, dtype=np.float64) for a in probs],), covers=covers)


def _dirichlet(rng: np.random.Generator, k: int, n: int, c: int, sharp: float = 1.0
               ) -> list[np.ndarray]:
    return [rng.dirichlet(np.full(c, sharp), size=n) for _ in range(k)]


def _ensemble_visible() -> list[Case]:
    rng = np.random.default_rng(70)
    return [
        _ensemble_case("3 models, 4 examples, 3 classes", _dirichlet(rng, 3, 4, 3)),
        _ensemble_case("two models prefer class 0 a little, one prefers class 1 a lot: the "
                       "mean picks 1, a majority vote would pick 0",
                       [[[0.40, 0.35, 0.25]], [[0.40, 0.35, 0.25]], [[0.05, 0.90, 0.05]]]),
        _ensemble_case("an exact tie between classes 1 and 2: the lowest index, 1, wins",
                       [[[0.25, 0.5, 0.25]], [[0.25, 0.25, 0.5]]]),
    ]


def _tied(rng: np.random.Generator) -> list[np.ndarray]:
    """Two models whose mean ties exactly (dyadic values) between some classes of each row."""
    rows_a = np.array([[0.5, 0.0, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25],
                       [0.0, 0.5, 0.25, 0.25], [0.125, 0.125, 0.375, 0.375]])
    rows_b = np.array([[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25],
                       [0.0, 0.25, 0.5, 0.25], [0.25, 0.25, 0.25, 0.25]])
    order = rng.permutation(4)
    return [rows_a[order], rows_b[order]]


def _ensemble_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("mean", "argmax", "unchanged", "returns")
    vote = [np.array([[0.45, 0.35, 0.20], [0.30, 0.30, 0.40]]),
            np.array([[0.45, 0.35, 0.20], [0.30, 0.30, 0.40]]),
            np.array([[0.02, 0.96, 0.02], [0.90, 0.05, 0.05]])]
    return [
        _ensemble_case("5 models, 50 examples, 10 classes", _dirichlet(rng, 5, 50, 10),
                       covers=every),
        _ensemble_case("one model", _dirichlet(rng, 1, 8, 4), covers=every),
        _ensemble_case("the mean and a majority vote disagree", vote,
                       covers=("mean", "argmax", "returns")),
        _ensemble_case("exact ties between classes", _tied(rng),
                       covers=("ties", "mean", "returns")),
        _ensemble_case("as many examples as classes (5 x 5), 4 models",
                       _dirichlet(rng, 4, 5, 5, sharp=0.3), covers=every),
        _ensemble_case("confident models, 2 classes, 7 models", _dirichlet(rng, 7, 30, 2, 0.2),
                       covers=("mean", "argmax", "unchanged")),
    ]


def _ensemble_oracle(case: Case) -> dict[str, np.ndarray]:
    mean = torch.stack([torch.from_numpy(a) for a in case.args[0]]).mean(dim=0)
    return {"mean_probs": mean.numpy(), "labels": torch.argmax(mean, dim=1).numpy()}


def _ensemble_call(impl: Callable, case: Case) -> dict[str, Any]:
    mean_probs, labels = unpack(_call_unchanged("ensemble_predict", impl, case.args,
                                                 dict(case.kwargs), case.label),
                                 ("mean_probs", "labels"), "ensemble_predict")
    return {"mean_probs": mean_probs, "labels": labels}


def _ensemble_compare(got: dict[str, Any], expected: dict[str, np.ndarray], case: Case) -> None:
    want = expected["mean_probs"]
    _check_close(got["mean_probs"], want, "mean_probs")
    labels = got["labels"]
    n = want.shape[0]
    if type(labels) is not np.ndarray or labels.shape != (n,):
        raise CheckFailure(f"expected labels to be a numpy.ndarray of shape ({n},), got "
                           f"{type(labels).__name__} {getattr(labels, 'shape', '')}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise CheckFailure(f"expected integer labels, got dtype {labels.dtype}")
    top = want.max(axis=1, keepdims=True)
    near = want >= top - 1e-12  # rows whose best classes tie up to rounding: any of them
    exact = want == top
    allowed = np.where((exact.sum(axis=1) > 1)[:, None], exact & (
        np.arange(want.shape[1]) == expected["labels"][:, None]), near)
    rows = np.arange(n)
    in_range = (labels >= 0) & (labels < want.shape[1])
    ok = in_range & allowed[rows, np.clip(labels, 0, want.shape[1] - 1)]
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        tie = (" (a tie: it goes to the lowest class index, as np.argmax)"
               if exact[i].sum() > 1 else "")
        raise CheckFailure(f"labels[{i}]: expected {int(expected['labels'][i])}, the argmax of "
                           f"mean_probs[{i}] = {np.round(want[i], 4).tolist()}, got "
                           f"{labels[i]}{tie}; {int((~ok).sum())} wrong label(s)")


ensemble_predict = Exercise(
    name="ensemble_predict",
    visible=_ensemble_visible,
    hidden=_ensemble_hidden,
    oracle=_ensemble_oracle,
    compare=_ensemble_compare,
    call=_ensemble_call,
    forbidden=NUMPY_FORBIDDEN,
    clauses={
        "mean": "the mean of the K arrays of prob_list (the models' predicted probabilities, "
                "not a majority vote of their labels)",
        "argmax": "the argmax over the classes (axis 1)",
        "ties": "ties go to the lowest class index, as np.argmax",
        "unchanged": "The list and its arrays are left unchanged.",
        "returns": "mean_probs a float64 array of shape (N, C); labels an integer array of "
                   "shape (N,)",
    },
)


# ---------------------------------------------------------------------------------------------
# early_stopping: a reference implementation of the docstring
# ---------------------------------------------------------------------------------------------


def _stopping_case(label: str, val_losses: Sequence[float], patience: int,
                   min_delta: float | None = None, covers: tuple[str, ...] = ()) -> Case:
    kwargs = {} if min_delta is None else {"min_delta": float(min_delta)}
    return Case(label, ([float(v) for v in val_losses], int(patience)), kwargs, covers=covers)


def _stopping_visible() -> list[Case]:
    return [
        _stopping_case("a plateau: equal losses are no improvement, patience 3",
                       [1.0, 0.7, 0.5, 0.5, 0.5, 0.5, 0.4], 3),
        _stopping_case("the docstring's example, patience 2",
                       [1.0, 0.8, 0.85, 0.79, 0.81, 0.80, 0.82], 2),
        _stopping_case("the docstring's example with min_delta = 0.02",
                       [1.0, 0.8, 0.85, 0.79, 0.81, 0.80, 0.82], 2, 0.02),
    ]


def _noisy_curve(rng: np.random.Generator, n: int) -> list[float]:
    """A validation curve: decreasing, then rising (overfitting), with noise."""
    epochs = np.arange(n)
    turn = rng.integers(n // 4, 3 * n // 4)
    curve = 1.0 / (1.0 + 0.3 * epochs) + 0.01 * np.maximum(epochs - turn, 0)
    return (curve + rng.normal(size=n) * 0.02).tolist()


def _stopping_hidden(rng: np.random.Generator) -> list[Case]:
    every = ("zero_indexed", "improves", "stop_rule", "best", "returns")
    return [
        _stopping_case("always improving: never stops", np.linspace(2.0, 1.0, 8), 2,
                       covers=("no_stop", "zero_indexed", "best", "returns")),
        _stopping_case("a plateau of equal losses, patience 2",
                       [0.9, 0.6, 0.6, 0.6, 0.3, 0.2], 2,
                       covers=("strict", "stop_rule", "zero_indexed", "best")),
        _stopping_case("a loss exactly best - min_delta is no improvement",
                       [1.0, 0.75, 0.5, 0.25], 1, 0.25,
                       covers=("strict", "improves", "best")),
        _stopping_case("small improvements below min_delta do not count",
                       [1.0, 0.9, 0.89, 0.88, 0.87, 0.86, 0.7, 0.5], 4, 0.05,
                       covers=("improves", "stop_rule", "best", "zero_indexed")),
        _stopping_case("better than the previous epoch is not better than the best",
                       [1.0, 0.5, 0.9, 0.8, 0.7, 0.6, 0.55, 0.52, 0.51], 3,
                       covers=("improves", "stop_rule", "best")),
        _stopping_case("a better loss after the stop is never seen",
                       [1.0, 0.6, 0.7, 0.8, 0.9, 0.1], 2,
                       covers=("best", "stop_rule", "zero_indexed")),
        _stopping_case("patience 1", [1.0, 0.9, 0.95, 0.8], 1,
                       covers=("stop_rule", "zero_indexed", "best")),
        _stopping_case("the last epoch improves after a long wait", [1.0, 1.1, 1.2, 1.3, 0.5], 4,
                       covers=("no_stop", "best", "stop_rule")),
        _stopping_case("one epoch", [0.3], 2, covers=("no_stop", "best", "returns")),
        _stopping_case("a noisy curve of 40 epochs, patience 5", _noisy_curve(rng, 40), 5,
                       covers=every),
        _stopping_case("a noisy curve of 60 epochs, patience 8, min_delta 0.01",
                       _noisy_curve(rng, 60), 8, 0.01, covers=every),
    ]


def _stopping_oracle(case: Case) -> dict[str, int]:
    val_losses, patience = case.args
    min_delta = case.kwargs.get("min_delta", 0.0)
    best, best_epoch, wait = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best - min_delta:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return {"stop_epoch": epoch, "best_epoch": best_epoch}
    return {"stop_epoch": len(val_losses) - 1, "best_epoch": best_epoch}


def _stopping_call(impl: Callable, case: Case) -> tuple:
    return unpack(_call_unchanged("early_stopping", impl, case.args, dict(case.kwargs),
                                   case.label), ("stop_epoch", "best_epoch"), "early_stopping")


def _stopping_compare(got: tuple, expected: dict[str, int], case: Case) -> None:
    for name, value in zip(("stop_epoch", "best_epoch"), got, strict=True):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise CheckFailure(f"expected {name} to be an int, got {type(value).__name__} "
                               f"{value!r}")
    mine = (int(got[0]), int(got[1]))
    want = (expected["stop_epoch"], expected["best_epoch"])
    if mine != want:
        hint = (" (epochs are 0-indexed: epoch e is val_losses[e])"
                if mine == (want[0] + 1, want[1] + 1) else "")
        raise CheckFailure(f"expected (stop_epoch, best_epoch) = {want}, got {mine}{hint}")


early_stopping = Exercise(
    name="early_stopping",
    visible=_stopping_visible,
    hidden=_stopping_hidden,
    oracle=_stopping_oracle,
    compare=_stopping_compare,
    call=_stopping_call,
    clauses={
        "zero_indexed": "Epochs are 0-indexed: epoch e is the one whose validation loss is "
                        "val_losses[e].",
        "improves": "an epoch improves when its loss < best - min_delta, where best is the loss "
                    "of the last epoch that improved",
        "strict": "a loss equal to best - min_delta is not an improvement",
        "stop_rule": "Training stops at the first epoch after which patience epochs in a row "
                     "brought no improvement, that is at epoch best_epoch + patience",
        "no_stop": "if that never happens, stop_epoch is the last epoch, len(val_losses) - 1",
        "best": "best_epoch is the last epoch that improved up to stop_epoch (epochs after "
                "stop_epoch are never seen)",
        "returns": "(stop_epoch, best_epoch), two ints",
    },
)


#: Every exercise of the assignment, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex for ex in (l2_penalty, sgd_weight_decay_step, adamw_step, dropout_forward,
                           dropout_backward, dropconnect_forward, random_horizontal_flip,
                           random_crop, stochastic_depth, ema_update, ensemble_predict,
                           early_stopping)
}
