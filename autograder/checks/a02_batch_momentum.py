"""Checks of assignment ``a02_batch_momentum``: minibatches, SGD and momentum.

Oracles are ``torch.optim.SGD`` (dampening 0) in float64 and, for ``minibatches``, the
procedure its docstring specifies. Optimizer cases run several consecutive steps and change the
learning rate between steps: the two ways of writing momentum agree only while it is constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.checks.core import Case, CheckFailure, Exercise, assert_close, require_ndarray

# ---------------------------------------------------------------------------------------------
# minibatches
# ---------------------------------------------------------------------------------------------


def _batch_case(label: str, n: int, d: int | tuple[int, ...], batch_size: int, seed: int,
                y_dim: int = 1, dtype=np.float64, covers: tuple[str, ...] = ()) -> Case:
    rng = np.random.default_rng(1000 + seed)
    X = rng.normal(size=(n, *np.atleast_1d(d))).astype(dtype)
    y = (np.arange(n) % 7 if y_dim == 1 else rng.normal(size=(n, y_dim))).astype(
        np.int64 if y_dim == 1 else dtype)
    return Case(label, (X, y, batch_size), data={"seed": seed}, covers=covers)


def _minibatches_visible() -> list[Case]:
    return [
        _batch_case("10 rows, batch_size 4 (last batch of 2)", 10, 3, 4, seed=0),
        _batch_case("12 rows, batch_size 3", 12, 2, 3, seed=1),
        _batch_case("5 float32 rows, batch_size 8: one batch", 5, 2, 8,
                    seed=2, dtype=np.float32),
    ]


_BATCH_EVERY = ("perm", "nothing_else", "slices", "last_smaller", "unchanged", "order")


def _minibatches_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        _batch_case("batch_size 1", 5, 2, 1, seed=int(rng.integers(1 << 30)),
                    covers=("perm", "nothing_else", "unchanged", "order", "batch_size")),
        _batch_case("batch_size larger than the data", 7, 3, 50, seed=int(rng.integers(1 << 30)),
                    covers=("perm", "nothing_else", "slices", "last_smaller", "unchanged")),
        _batch_case("batch_size equal to the data", 8, 2, 8, seed=int(rng.integers(1 << 30)),
                    covers=("perm", "nothing_else", "slices", "unchanged")),
        _batch_case("97 rows, batch_size 16", 97, 5, 16, seed=int(rng.integers(1 << 30)),
                    covers=_BATCH_EVERY),
        _batch_case("2-D targets, float32 inputs", 33, 4, 10, seed=int(rng.integers(1 << 30)),
                    y_dim=3, dtype=np.float32, covers=(*_BATCH_EVERY, "dtypes")),
        _batch_case("3-D inputs (images)", 23, (2, 3), 5, seed=int(rng.integers(1 << 30)),
                    covers=(*_BATCH_EVERY, "shape")),
    ]


def _minibatches_call(impl: Callable, case: Case) -> dict[str, Any]:
    X, y, batch_size = case.args
    X_in, y_in = X.copy(), y.copy()
    rng = np.random.default_rng(case.data["seed"])
    result = impl(X_in, y_in, batch_size, rng)
    try:
        batches = list(result)
    except TypeError:
        raise CheckFailure(f"expected an iterable of (X_batch, y_batch), got "
                           f"{type(result).__name__}") from None
    if not (np.array_equal(X_in, X) and np.array_equal(y_in, y)):
        raise CheckFailure("minibatches modified X or y in place; index with the permutation "
                           "instead of shuffling the arrays")
    return {"batches": batches, "next_draw": rng.random()}


def _minibatches_oracle(case: Case) -> dict[str, Any]:
    X, y, batch_size = case.args
    rng = np.random.default_rng(case.data["seed"])
    perm = rng.permutation(len(X))
    batches = [(X[perm][i:i + batch_size], y[perm][i:i + batch_size])
               for i in range(0, len(X), batch_size)]
    return {"batches": batches, "next_draw": rng.random()}


def _minibatches_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    batches, want = got["batches"], expected["batches"]
    sizes = [len(b[0]) if isinstance(b, (tuple, list)) and len(b) == 2 else "?" for b in batches]
    if len(batches) != len(want):
        raise CheckFailure(f"expected {len(want)} batches of sizes {[len(b[0]) for b in want]}, "
                           f"got {len(batches)} of sizes {sizes}")
    for k, (item, (X_want, y_want)) in enumerate(zip(batches, want, strict=True)):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise CheckFailure(f"batch {k} must be a pair (X_batch, y_batch)")
        for name, part, ref in (("X_batch", item[0], X_want), ("y_batch", item[1], y_want)):
            if type(part) is not np.ndarray or part.shape != ref.shape:
                raise CheckFailure(f"batch {k}: {name} must be an ndarray of shape {ref.shape}, "
                                   f"got {type(part).__name__} {getattr(part, 'shape', '')}")
            if part.dtype != ref.dtype:
                raise CheckFailure(f"batch {k}: {name} has dtype {part.dtype}, expected "
                                   f"{ref.dtype} (the dtype of {name[0]})")
            if not np.array_equal(part, ref):
                raise CheckFailure(
                    f"batch {k}: {name} holds other rows than X[perm][{k}*batch_size : ...] "
                    "with perm = rng.permutation(len(X)) drawn once at the start")
    if got["next_draw"] != expected["next_draw"]:
        raise CheckFailure("the generator was used differently: draw exactly one "
                           "rng.permutation(len(X)) per epoch and nothing else")


minibatches = Exercise(
    name="minibatches",
    visible=_minibatches_visible,
    hidden=_minibatches_hidden,
    oracle=_minibatches_oracle,
    compare=_minibatches_compare,
    call=_minibatches_call,
    forbidden=("torch.utils.data", "sklearn"),
    clauses={
        "perm": "Draw perm = rng.permutation(len(X)) once",
        "nothing_else": "(and nothing else from rng)",
        "slices": "return the consecutive slices of X[perm] and y[perm] with batch_size rows "
                  "each: rows [0, batch_size), [batch_size, 2 batch_size), ...",
        "last_smaller": "the last batch may be smaller",
        "shape": "inputs, shape (n, ...)",
        "unchanged": "Must be left unchanged.",
        "batch_size": "rows per batch, >= 1",
        "order": "the (X_batch, y_batch) pairs, in order",
        "dtypes": "with the dtypes of X and y",
    },
)


# ---------------------------------------------------------------------------------------------
# Step functions: several consecutive steps against torch.optim.SGD
# ---------------------------------------------------------------------------------------------


def _gradients(rng: np.random.Generator, shape: tuple[int, ...], num_steps: int,
               scale: float = 1.0) -> list[np.ndarray]:
    return [rng.normal(size=shape) * scale for _ in range(num_steps)]


def _steps_case(label: str, w0: np.ndarray, grads: Sequence[np.ndarray], lrs: Sequence[float],
                covers: tuple[str, ...] = (), **hyper: Any) -> Case:
    return Case(label, (), hyper, data={"w0": np.asarray(w0, dtype=np.float64),
                                        "grads": [np.asarray(g, dtype=np.float64) for g in grads],
                                        "lrs": list(lrs)}, covers=covers)


def _torch_sgd_trajectory(case: Case, momentum: float = 0.0, nesterov: bool = False
                          ) -> list[dict[str, np.ndarray]]:
    w = torch.tensor(case.data["w0"], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=case.data["lrs"][0], momentum=momentum,
                                nesterov=nesterov, dampening=0.0)
    trajectory = []
    for grad, lr in zip(case.data["grads"], case.data["lrs"], strict=True):
        optimizer.param_groups[0]["lr"] = lr
        w.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
        state = optimizer.state[w]
        v = state.get("momentum_buffer")
        trajectory.append({"w": w.detach().numpy().copy(),
                           "v": None if v is None else v.numpy().copy()})
    return trajectory


def _check_array(got: Any, want: np.ndarray, what: str, step: int) -> None:
    try:
        require_ndarray(got, want.shape, what)
        scale = max(1.0, float(np.max(np.abs(want))))
        assert_close(got, want, atol=1e-12 * scale, rtol=1e-10)
    except CheckFailure as failure:
        raise CheckFailure(f"after step {step + 1}: {failure}") from None


def _sgd_visible() -> list[Case]:
    rng = np.random.default_rng(2)
    return [
        _steps_case("3 steps in 2-D", [1.0, -2.0], _gradients(rng, (2,), 3), [0.1] * 3),
        _steps_case("2x3 matrix w, lr changing every step", rng.normal(size=(2, 3)),
                    _gradients(rng, (2, 3), 3), [0.5, 0.05, 0.2]),
        _steps_case("zero gradient: w unchanged, still a new array", [0.5, -1.5, 2.0],
                    [np.zeros(3)] * 2, [0.1, 0.1]),
    ]


_SGD_EVERY = ("formula", "unchanged", "returns")


def _sgd_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        _steps_case("matrix parameter, changing lr", rng.normal(size=(3, 4)),
                    _gradients(rng, (3, 4), 5), [0.5, 0.1, 0.01, 1.0, 0.3], covers=_SGD_EVERY),
        _steps_case("huge gradients", rng.normal(size=4), _gradients(rng, (4,), 3, 1e8),
                    [1e-9] * 3, covers=("formula", "unchanged")),
        _steps_case("tiny gradients", rng.normal(size=4), _gradients(rng, (4,), 3, 1e-12),
                    [10.0] * 3, covers=("formula", "unchanged")),
        _steps_case("3-D parameter", rng.normal(size=(2, 3, 2)), _gradients(rng, (2, 3, 2), 3),
                    [0.2, 0.05, 0.4], covers=_SGD_EVERY),
    ]


def _sgd_call(impl: Callable, case: Case) -> list[dict[str, Any]]:
    w = case.data["w0"].copy()
    trajectory = []
    for grad, lr in zip(case.data["grads"], case.data["lrs"], strict=True):
        w_in, g_in = w.copy(), grad.copy()
        w_new = impl(w_in, g_in, lr)
        if not (np.array_equal(w_in, w) and np.array_equal(g_in, grad)):
            raise CheckFailure("sgd_step modified w or dw in place; return a new array")
        if isinstance(w_new, np.ndarray) and (np.shares_memory(w_new, w_in)
                                              or np.shares_memory(w_new, g_in)):
            raise CheckFailure("sgd_step returned an array sharing memory with w or dw; "
                               "return a new array")
        trajectory.append({"w": w_new})
        if type(w_new) is not np.ndarray or w_new.shape != w.shape:
            break  # the comparison, outside the sandbox, says what is wrong with it
        w = np.asarray(w_new, dtype=np.float64)
    return trajectory


def _trajectory_compare(got: list[dict[str, Any]], expected: list[dict[str, Any]],
                        case: Case) -> None:
    for step, (mine, want) in enumerate(zip(got, expected, strict=False)):
        for key in mine:
            _check_array(mine[key], want[key], key, step)
    if len(got) != len(expected):
        raise CheckFailure(f"stopped after {len(got)} of {len(expected)} steps")


sgd_step = Exercise(
    name="sgd_step",
    visible=_sgd_visible,
    hidden=_sgd_hidden,
    oracle=_torch_sgd_trajectory,
    compare=_trajectory_compare,
    call=_sgd_call,
    forbidden=("torch.optim",),
    clauses={
        "formula": "return w - lr * dw",
        "unchanged": "Must be left unchanged.",
        "returns": "the new parameters, a new array of w's shape",
    },
)


def _momentum_visible() -> list[Case]:
    rng = np.random.default_rng(3)
    return [
        _steps_case("momentum 0.9, 4 steps", [1.0, -1.0], _gradients(rng, (2,), 4), [0.1] * 4,
                    momentum=0.9),
        _steps_case("Nesterov, momentum 0.9, 4 steps", [0.5, 2.0, -1.0],
                    _gradients(rng, (3,), 4), [0.05] * 4, momentum=0.9, nesterov=True),
        _steps_case("lr changing every step, momentum 0.5",
                    [1.0, 0.0], _gradients(rng, (2,), 4), [0.2, 0.02, 0.1, 0.05],
                    momentum=0.5),
    ]


def _momentum_hidden(rng: np.random.Generator) -> list[Case]:
    decay = [0.1 * 0.5**k for k in range(8)]
    plain = ("velocity", "plain", "zeros", "unchanged", "returns", "new_arrays")
    nesterov = ("velocity", "nesterov", "zeros", "unchanged", "returns", "new_arrays")
    return [
        _steps_case("learning rate halved every step", rng.normal(size=5),
                    _gradients(rng, (5,), 8), decay, momentum=0.9, covers=(*plain, "lr")),
        _steps_case("Nesterov with a changing learning rate", rng.normal(size=(2, 3)),
                    _gradients(rng, (2, 3), 8), decay[::-1], momentum=0.8, nesterov=True,
                    covers=(*nesterov, "lr")),
        _steps_case("momentum 0 equals SGD", rng.normal(size=4), _gradients(rng, (4,), 4),
                    [0.2, 0.1, 0.3, 0.05], momentum=0.0,
                    covers=("velocity", "plain", "unchanged", "returns", "new_arrays", "lr",
                            "mu")),
        _steps_case("huge gradients", rng.normal(size=3), _gradients(rng, (3,), 5, 1e8),
                    [1e-8] * 5, momentum=0.99, covers=(*plain, "mu")),
        _steps_case("tiny gradients", rng.normal(size=3), _gradients(rng, (3,), 5, 1e-12),
                    [3.0] * 5, momentum=0.5, nesterov=True, covers=nesterov),
        _steps_case("constant gradient builds velocity", np.zeros(2), [np.ones(2)] * 10,
                    [0.1] * 5 + [0.01] * 5, momentum=0.9, covers=(*plain, "lr")),
    ]


def _momentum_call(impl: Callable, case: Case) -> list[dict[str, Any]]:
    hyper = case.kwargs
    w = case.data["w0"].copy()
    v = np.zeros_like(w)
    trajectory = []
    for grad, lr in zip(case.data["grads"], case.data["lrs"], strict=True):
        w_in, g_in, v_in = w.copy(), grad.copy(), v.copy()
        result = impl(w_in, g_in, v_in, lr, hyper["momentum"], **(
            {"nesterov": True} if hyper.get("nesterov") else {}))
        if not (np.array_equal(w_in, w) and np.array_equal(g_in, grad)
                and np.array_equal(v_in, v)):
            raise CheckFailure("momentum_step modified w, dw or v in place; return new arrays")
        if not isinstance(result, tuple) or len(result) != 2:
            raise CheckFailure(f"expected a tuple (w, v), got {type(result).__name__}")
        for what, part in zip(("w_new", "v_new"), result, strict=True):
            if isinstance(part, np.ndarray) and any(
                    np.shares_memory(part, arg) for arg in (w_in, g_in, v_in)):
                raise CheckFailure(f"{what} shares memory with w, dw or v; return new arrays")
        if all(isinstance(part, np.ndarray) for part in result) and np.shares_memory(*result):
            raise CheckFailure("w_new and v_new share memory; return two new arrays")
        trajectory.append({"w": result[0], "v": result[1]})
        w, v = result
    return trajectory


def _momentum_oracle(case: Case) -> list[dict[str, np.ndarray]]:
    return _torch_sgd_trajectory(case, momentum=case.kwargs["momentum"],
                                 nesterov=bool(case.kwargs.get("nesterov")))


def _momentum_compare(got: list[dict[str, Any]], expected: list[dict[str, Any]],
                      case: Case) -> None:
    for step, (mine, want) in enumerate(zip(got, expected, strict=True)):
        _check_array(mine["w"], want["w"], "w", step)
        v_want = want["v"] if want["v"] is not None else case.data["grads"][step]
        _check_array(mine["v"], v_want, "v", step)


momentum_step = Exercise(
    name="momentum_step",
    visible=_momentum_visible,
    hidden=_momentum_hidden,
    oracle=_momentum_oracle,
    compare=_momentum_compare,
    call=_momentum_call,
    forbidden=("torch.optim",),
    clauses={
        "velocity": "v_new = momentum * v + dw",
        "plain": "w_new = w - lr * v_new (nesterov=False)",
        "nesterov": "w_new = w - lr * (dw + momentum * v_new) (nesterov=True)",
        "zeros": "The buffer v starts at zeros before the first step (so after it v_new = dw).",
        "unchanged": "Must be left unchanged.",
        "lr": "learning rate of this step (it may change from step to step)",
        "mu": "the momentum factor mu, 0 <= mu < 1",
        "returns": "(w_new, v_new)",
        "new_arrays": "new arrays",
    },
)


# ---------------------------------------------------------------------------------------------
# The SGD optimizer class: 20 steps on a model against torch.optim.SGD
# ---------------------------------------------------------------------------------------------


class _FrozenHead(nn.Module):
    """An MLP with an extra parameter that never receives a gradient (``grad is None``).

    Two hidden layers of the same width give parameters of equal shapes, so per-parameter
    state keyed by anything but the parameter itself shows.
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(),
                                  nn.Linear(6, 3))
        self.unused = nn.Parameter(torch.ones(2))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.body(X)


def _optimizer_case(label: str, seed: int, num_steps: int = 20, groups: bool = False,
                    lr_schedule: Sequence[float] | None = None, inspect: bool = False,
                    covers: tuple[str, ...] = (), **hyper: Any) -> Case:
    data = {"seed": seed, "num_steps": num_steps, "groups": groups, "lr_schedule": lr_schedule}
    if inspect:
        data["inspect"] = True
    return Case(label, (), hyper, data=data, covers=covers)


def _sgd_class_visible() -> list[Case]:
    return [
        _optimizer_case("plain SGD, lr 0.1", 0, lr=0.1),
        _optimizer_case("momentum 0.9", 1, lr=0.05, momentum=0.9),
        _optimizer_case("Nesterov, weight decay 0.01, 10 steps", 2,
                        num_steps=10, lr=0.05, momentum=0.9, nesterov=True,
                        weight_decay=0.01),
        _optimizer_case("step(closure) every other step: p.grad unchanged, p in place", 3,
                        num_steps=6, inspect=True, lr=0.05, momentum=0.9, weight_decay=0.01),
    ]


def _sgd_class_hidden(rng: np.random.Generator) -> list[Case]:
    seed = int(rng.integers(1 << 30))
    momentum = ("buffer", "buf_zeros", "per_param", "update", "skip_none")
    return [
        _optimizer_case("Nesterov momentum", seed, lr=0.05, momentum=0.9, nesterov=True,
                        covers=(*momentum, "nesterov")),
        _optimizer_case("weight decay with momentum", seed + 1, lr=0.05, momentum=0.9,
                        weight_decay=0.01, covers=(*momentum, "decay")),
        _optimizer_case("weight decay, Nesterov", seed + 2, lr=0.03, momentum=0.8,
                        nesterov=True, weight_decay=0.1, covers=(*momentum, "decay", "nesterov")),
        _optimizer_case("two parameter groups", seed + 3, groups=True, lr=0.05, momentum=0.9,
                        covers=(*momentum, "group_values")),
        _optimizer_case("learning rate changed during training", seed + 4, lr=0.1,
                        momentum=0.9, lr_schedule=[0.1] * 7 + [0.02] * 7 + [0.3] * 6,
                        covers=(*momentum, "group_values")),
        _optimizer_case("weight decay without momentum", seed + 5, lr=0.1, weight_decay=0.1,
                        covers=("decay", "update", "skip_none")),
        _optimizer_case("step(closure), gradients, state and param groups inspected", seed + 6,
                        groups=True, inspect=True, lr=0.05, momentum=0.9, weight_decay=0.01,
                        lr_schedule=[0.05] * 5 + [0.01] * 5, num_steps=10,
                        covers=(*momentum, "decay", "group_values", "closure", "groups",
                                "state", "grad_untouched")),
        _optimizer_case("step(closure) and state inspected, Nesterov without weight decay",
                        seed + 7, inspect=True, lr=0.05, momentum=0.9, nesterov=True,
                        num_steps=10, covers=(*momentum, "nesterov", "closure", "groups",
                                              "state", "grad_untouched")),
    ]


def _build(case: Case) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    torch.manual_seed(case.data["seed"])
    model = _FrozenHead().double()
    generator = torch.Generator().manual_seed(case.data["seed"])
    batches = [(torch.randn(8, 4, generator=generator, dtype=torch.float64),
                torch.randint(0, 3, (8,), generator=generator))
               for _ in range(case.data["num_steps"])]
    return model, batches


def _param_groups(model: nn.Module, case: Case) -> Any:
    if not case.data["groups"]:
        return model.parameters()
    return [{"params": model.body[0].parameters(), "lr": case.kwargs["lr"] / 2},
            {"params": [*model.body[2].parameters(), *model.body[4].parameters(), model.unused]}]


def _train(make_optimizer: Callable[..., Any], case: Case) -> list[np.ndarray]:
    model, batches = _build(case)
    optimizer = make_optimizer(_param_groups(model, case), **case.kwargs)
    loss_fn = nn.CrossEntropyLoss()
    if case.data.get("inspect"):
        _inspected_training(optimizer, model, batches, loss_fn, case)
        return [p.detach().numpy().copy() for p in model.parameters()]
    for step, (X, y) in enumerate(batches):
        if case.data["lr_schedule"]:
            for group in optimizer.param_groups:
                group["lr"] = case.data["lr_schedule"][step]
        optimizer.zero_grad()
        loss_fn(model(X), y).backward()
        optimizer.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


def _check_param_groups(optimizer: Any, case: Case) -> None:
    defaults = {"momentum": 0.0, "nesterov": False, "weight_decay": 0.0, **case.kwargs}
    for k, group in enumerate(optimizer.param_groups):
        for key in ("lr", "momentum", "nesterov", "weight_decay"):
            if key not in group:
                raise CheckFailure(f"param_groups[{k}] has no {key!r}: pass lr, momentum, "
                                   "nesterov and weight_decay as the defaults dict to "
                                   "torch.optim.Optimizer.__init__")
            if key != "lr" and group[key] != defaults[key]:
                raise CheckFailure(f"param_groups[{k}][{key!r}] is {group[key]!r}, expected "
                                   f"{defaults[key]!r}")


def _inspected_training(optimizer: Any, model: nn.Module,
                        batches: list[tuple[torch.Tensor, torch.Tensor]], loss_fn: nn.Module,
                        case: Case) -> None:
    """Train as ``_train`` does, calling ``step(closure)`` on even steps and ``step()`` on odd
    ones, zeroing the gradients in place, and checking after every step what the docstring
    promises besides the numbers: the return value, ``p.grad`` untouched, ``p`` updated in
    place, the buffers in ``self.state[p]`` (none sharing memory with ``p.grad``)."""
    _check_param_groups(optimizer, case)
    params = list(model.parameters())
    views = [p.detach() for p in params]
    record: dict[str, Any] = {}

    def closure() -> torch.Tensor:
        X, y = record["batch"]
        with torch.enable_grad():
            optimizer.zero_grad(set_to_none=False)
            loss = loss_fn(model(X), y)
            loss.backward()
        record["loss"] = loss
        record["grads"] = [None if p.grad is None else p.grad.clone() for p in params]
        return loss

    for step, batch in enumerate(batches):
        record["batch"] = batch
        if case.data["lr_schedule"]:
            for group in optimizer.param_groups:
                group["lr"] = case.data["lr_schedule"][step]
        if step % 2 == 0:
            returned = optimizer.step(closure)
            loss = record["loss"]
            if returned is not loss and not (isinstance(returned, (torch.Tensor, float))
                                             and float(returned) == float(loss)):
                raise CheckFailure(f"step {step + 1}: step(closure) must return the loss the "
                                   f"closure returned, got {type(returned).__name__}")
        else:
            closure()
            returned = optimizer.step()
            if returned is not None:
                raise CheckFailure(f"step {step + 1}: step() without a closure must return "
                                   f"None, got {type(returned).__name__}")
        for p, view, grad in zip(params, views, record["grads"], strict=True):
            if grad is None:
                continue
            if not torch.equal(p.grad, grad):
                raise CheckFailure(f"step {step + 1}: step() changed p.grad; compute "
                                   "g = p.grad + weight_decay * p into a new tensor")
            if view.data_ptr() != p.data_ptr() or not torch.equal(view, p.detach()):
                raise CheckFailure(f"step {step + 1}: the parameters must be updated in place "
                                   "(p.add_(...)), not replaced")
            buffers = [t for t in optimizer.state.get(p, {}).values()
                       if isinstance(t, torch.Tensor) and t.shape == p.shape]
            if not buffers:
                raise CheckFailure(f"step {step + 1}: no momentum buffer of the parameter's "
                                   "shape in self.state[p]")
            if any(t.untyped_storage().data_ptr() == p.grad.untyped_storage().data_ptr()
                   for t in buffers):
                raise CheckFailure(f"step {step + 1}: the momentum buffer shares memory with "
                                   "p.grad; start it at zeros (or a clone)")


def _sgd_class_call(impl: Any, case: Case) -> list[np.ndarray]:
    if not (isinstance(impl, type) and issubclass(impl, torch.optim.Optimizer)):
        raise CheckFailure("SGD must be a class that subclasses torch.optim.Optimizer")
    return _train(impl, case)


def _sgd_class_oracle(case: Case) -> list[np.ndarray]:
    return _train(lambda params, **hyper: torch.optim.SGD(params, dampening=0.0, **hyper), case)


def _sgd_class_compare(got: list[np.ndarray], expected: list[np.ndarray], case: Case) -> None:
    names = [name for name, _ in _FrozenHead().named_parameters()]
    for name, mine, want in zip(names, got, expected, strict=True):
        if not np.allclose(mine, want, rtol=0.0, atol=1e-6):
            err = float(np.max(np.abs(mine - want)))
            raise CheckFailure(f"after {case.data['num_steps']} steps parameter {name!r} differs "
                               f"from torch.optim.SGD by up to {err:.3g} (allowed 1e-6)")


SGD = Exercise(
    name="SGD",
    visible=_sgd_class_visible,
    hidden=_sgd_class_hidden,
    oracle=_sgd_class_oracle,
    compare=_sgd_class_compare,
    call=_sgd_class_call,
    forbidden=("torch.optim",),
    allowed=("torch.optim.optimizer", "torch.optim.Optimizer"),
    clauses={
        "group_values": "using the values of its param group at this step",
        "decay": "g = p.grad + weight_decay * p",
        "buffer": "buf = momentum * buf + g",
        "buf_zeros": "buf starts at zeros",
        "per_param": "one per parameter",
        "nesterov": "g = g + momentum * buf if nesterov else buf",
        "update": "p = p - lr * g (in place)",
        "skip_none": "Parameters whose grad is None are skipped.",
        "grad_untouched": "p.grad is left unchanged.",
        "closure": "step(closure=None) returns closure's loss (or None).",
        "groups": "Keep lr, momentum, nesterov and weight_decay in each param group",
        "state": "the buffers in self.state[p]",
    },
)

#: Every exercise of the assignment, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex for ex in (minibatches, sgd_step, momentum_step, SGD)
}

