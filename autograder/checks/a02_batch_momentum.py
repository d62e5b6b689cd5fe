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


def _batch_case(label: str, n: int, d: int, batch_size: int, seed: int, y_dim: int = 1,
                dtype=np.float64) -> Case:
    rng = np.random.default_rng(1000 + seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = (np.arange(n) % 7 if y_dim == 1 else rng.normal(size=(n, y_dim))).astype(
        np.int64 if y_dim == 1 else dtype)
    return Case(label, (X, y, batch_size), data={"seed": seed})


def _minibatches_visible() -> list[Case]:
    return [
        _batch_case("10 rows, batch_size 4 (last batch of 2)", 10, 3, 4, seed=0),
        _batch_case("12 rows, batch_size 3", 12, 2, 3, seed=1),
    ]


def _minibatches_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        _batch_case("batch_size 1", 5, 2, 1, seed=int(rng.integers(1 << 30))),
        _batch_case("batch_size larger than the data", 7, 3, 50, seed=int(rng.integers(1 << 30))),
        _batch_case("batch_size equal to the data", 8, 2, 8, seed=int(rng.integers(1 << 30))),
        _batch_case("97 rows, batch_size 16", 97, 5, 16, seed=int(rng.integers(1 << 30))),
        _batch_case("2-D targets, float32 inputs", 33, 4, 10, seed=int(rng.integers(1 << 30)),
                    y_dim=3, dtype=np.float32),
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
            if part.dtype != ref.dtype or not np.array_equal(part, ref):
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
)


# ---------------------------------------------------------------------------------------------
# Step functions: several consecutive steps against torch.optim.SGD
# ---------------------------------------------------------------------------------------------


def _gradients(rng: np.random.Generator, shape: tuple[int, ...], num_steps: int,
               scale: float = 1.0) -> list[np.ndarray]:
    return [rng.normal(size=shape) * scale for _ in range(num_steps)]


def _steps_case(label: str, w0: np.ndarray, grads: Sequence[np.ndarray], lrs: Sequence[float],
                **hyper: Any) -> Case:
    return Case(label, (), hyper, data={"w0": np.asarray(w0, dtype=np.float64),
                                        "grads": [np.asarray(g, dtype=np.float64) for g in grads],
                                        "lrs": list(lrs)})


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
    return [_steps_case("3 steps in 2-D", [1.0, -2.0], _gradients(rng, (2,), 3), [0.1] * 3)]


def _sgd_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        _steps_case("matrix parameter, changing lr", rng.normal(size=(3, 4)),
                    _gradients(rng, (3, 4), 5), [0.5, 0.1, 0.01, 1.0, 0.3]),
        _steps_case("huge gradients", rng.normal(size=4), _gradients(rng, (4,), 3, 1e8),
                    [1e-9] * 3),
        _steps_case("tiny gradients", rng.normal(size=4), _gradients(rng, (4,), 3, 1e-12),
                    [10.0] * 3),
    ]


def _sgd_call(impl: Callable, case: Case) -> list[dict[str, Any]]:
    w = case.data["w0"].copy()
    trajectory = []
    for grad, lr in zip(case.data["grads"], case.data["lrs"], strict=True):
        w_in, g_in = w.copy(), grad.copy()
        w_new = impl(w_in, g_in, lr)
        if not (np.array_equal(w_in, w) and np.array_equal(g_in, grad)):
            raise CheckFailure("sgd_step modified w or dw in place; return a new array")
        trajectory.append({"w": w_new})
        w = np.asarray(w_new, dtype=np.float64) if type(w_new) is np.ndarray else w_new
    return trajectory


def _trajectory_compare(got: list[dict[str, Any]], expected: list[dict[str, Any]],
                        case: Case) -> None:
    for step, (mine, want) in enumerate(zip(got, expected, strict=True)):
        for key in mine:
            _check_array(mine[key], want[key], key, step)


sgd_step = Exercise(
    name="sgd_step",
    visible=_sgd_visible,
    hidden=_sgd_hidden,
    oracle=_torch_sgd_trajectory,
    compare=_trajectory_compare,
    call=_sgd_call,
    forbidden=("torch.optim",),
)


def _momentum_visible() -> list[Case]:
    rng = np.random.default_rng(3)
    return [
        _steps_case("momentum 0.9, 4 steps", [1.0, -1.0], _gradients(rng, (2,), 4), [0.1] * 4,
                    momentum=0.9),
        _steps_case("Nesterov, momentum 0.9, 4 steps", [0.5, 2.0, -1.0],
                    _gradients(rng, (3,), 4), [0.05] * 4, momentum=0.9, nesterov=True),
    ]


def _momentum_hidden(rng: np.random.Generator) -> list[Case]:
    decay = [0.1 * 0.5**k for k in range(8)]
    return [
        _steps_case("learning rate halved every step", rng.normal(size=5),
                    _gradients(rng, (5,), 8), decay, momentum=0.9),
        _steps_case("Nesterov with a changing learning rate", rng.normal(size=(2, 3)),
                    _gradients(rng, (2, 3), 8), decay[::-1], momentum=0.8, nesterov=True),
        _steps_case("momentum 0 equals SGD", rng.normal(size=4), _gradients(rng, (4,), 4),
                    [0.2, 0.1, 0.3, 0.05], momentum=0.0),
        _steps_case("huge gradients", rng.normal(size=3), _gradients(rng, (3,), 5, 1e8),
                    [1e-8] * 5, momentum=0.99),
        _steps_case("tiny gradients", rng.normal(size=3), _gradients(rng, (3,), 5, 1e-12),
                    [3.0] * 5, momentum=0.5, nesterov=True),
        _steps_case("constant gradient builds velocity", np.zeros(2), [np.ones(2)] * 10,
                    [0.1] * 5 + [0.01] * 5, momentum=0.9),
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
                    lr_schedule: Sequence[float] | None = None, **hyper: Any) -> Case:
    return Case(label, (), hyper, data={"seed": seed, "num_steps": num_steps,
                                        "groups": groups, "lr_schedule": lr_schedule})


def _sgd_class_visible() -> list[Case]:
    return [
        _optimizer_case("plain SGD, lr 0.1", 0, lr=0.1),
        _optimizer_case("momentum 0.9", 1, lr=0.05, momentum=0.9),
    ]


def _sgd_class_hidden(rng: np.random.Generator) -> list[Case]:
    seed = int(rng.integers(1 << 30))
    return [
        _optimizer_case("Nesterov momentum", seed, lr=0.05, momentum=0.9, nesterov=True),
        _optimizer_case("weight decay with momentum", seed + 1, lr=0.05, momentum=0.9,
                        weight_decay=0.01),
        _optimizer_case("weight decay, Nesterov", seed + 2, lr=0.03, momentum=0.8,
                        nesterov=True, weight_decay=0.1),
        _optimizer_case("two parameter groups", seed + 3, groups=True, lr=0.05, momentum=0.9),
        _optimizer_case("learning rate changed during training", seed + 4, lr=0.1,
                        momentum=0.9, lr_schedule=[0.1] * 7 + [0.02] * 7 + [0.3] * 6),
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
    for step, (X, y) in enumerate(batches):
        if case.data["lr_schedule"]:
            for group in optimizer.param_groups:
                group["lr"] = case.data["lr_schedule"][step]
        optimizer.zero_grad()
        loss_fn(model(X), y).backward()
        optimizer.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


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
)

#: Every exercise of the assignment, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex for ex in (minibatches, sgd_step, momentum_step, SGD)
}

