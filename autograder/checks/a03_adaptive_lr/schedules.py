"""Checks of ``schedules_second_order.ipynb`` (assignment ``a03_adaptive_lr``).

Learning-rate schedules are checked against PyTorch's own schedulers: the oracle builds an
``SGD`` optimizer with ``lr=base_lr`` and the scheduler, calls ``optimizer.step()`` then
``scheduler.step()`` ``step`` times and reads ``scheduler.get_last_lr()[0]``. Each case evaluates
the student's function at every ``step = 0, 1, ..., N`` and compares the whole sequence, so
off-by-one steps and wrong boundaries show.

Newton, BFGS and L-BFGS are checked in float64: Newton against ``torch.linalg.solve`` and by the
residual of the linear system (which an explicit inverse fails on ill-conditioned Hessians), BFGS
against the product formula and the secant condition, L-BFGS against the BFGS update applied
pair by pair to ``gamma * I``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.optim import lr_scheduler

from autograder.checks.core import (
    Case,
    CheckFailure,
    Exercise,
    assert_close,
    require_ndarray,
)

EPS = np.finfo(np.float64).eps

#: Relative and absolute (times the largest rate of the schedule) tolerances of the schedules.
#: PyTorch updates most rates recursively; the closed forms agree with it to ~1e-15.
SCHEDULE_RTOL = 1e-9
SCHEDULE_ATOL = 1e-12


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules: one case is a whole sequence step = 0..N.
# ---------------------------------------------------------------------------------------------

#: Parameter names after ``step`` and their defaults, per schedule (the notebook's signatures).
SIGNATURES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "step_decay_lr": (("base_lr", "step_size", "gamma"), {"gamma": 0.1}),
    "cosine_lr": (("base_lr", "T_max", "eta_min"), {"eta_min": 0.0}),
    "warmup_lr": (("base_lr", "warmup_steps", "start_factor"), {"start_factor": 0.1}),
    "cyclic_lr": (("base_lr", "max_lr", "step_size_up"), {}),
    "sgdr_lr": (("base_lr", "T_0", "T_mult", "eta_min"), {"T_mult": 1, "eta_min": 0.0}),
    "one_cycle_lr": (("max_lr", "total_steps", "pct_start", "div_factor", "final_div_factor"),
                     {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}),
}


def _schedule_case(name: str, steps: int, *args: Any, about: str | None = None,
                   **kwargs: Any) -> Case:
    """A case evaluating ``name(step, *args, **kwargs)`` for step = 0..steps.

    Its label is ``about`` when given (what the case shows, short enough for a visible case's
    pass line; a failure message shows the call itself), else the call.
    """
    names, defaults = SIGNATURES[name]
    params = {**defaults, **dict(zip(names, args, strict=False)), **kwargs}
    shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    call = f"{name}(step, {shown}) for step = 0..{steps}"
    return Case(about or call, args, kwargs,
                data={"steps": steps, "params": params})


def _schedule_call(impl: Callable, case: Case) -> list[Any]:
    """The student's rate at every step 0..N."""
    return [impl(step, *copy.deepcopy(case.args), **copy.deepcopy(dict(case.kwargs)))
            for step in range(case.data["steps"] + 1)]


def _simulate(make: Callable[[torch.optim.Optimizer], lr_scheduler.LRScheduler], lr: float,
              steps: int, momentum: float = 0.0) -> list[float]:
    """PyTorch's rates: ``get_last_lr()[0]`` after 0, 1, ..., ``steps`` scheduler steps."""
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum)
    scheduler = make(optimizer)
    rates = [float(scheduler.get_last_lr()[0])]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rates.append(float(scheduler.get_last_lr()[0]))
    return rates


def _schedule_oracle(build: Callable[..., Callable], lr_param: str) -> Callable[[Case], list]:
    def oracle(case: Case) -> list[float]:
        params = dict(case.data["params"])
        return _simulate(build(**params), float(params[lr_param]), case.data["steps"])
    return oracle


def _schedule_compare(name: str) -> Callable[[Any, list[float], Case], None]:
    def compare(got: Any, expected: list[float], case: Case) -> None:
        scale = max(abs(v) for v in expected)
        shown = ", ".join([repr(a) for a in case.args]
                          + [f"{k}={v!r}" for k, v in case.kwargs.items()])
        for step, (value, want) in enumerate(zip(got, expected, strict=True)):
            call = f"{name}({step}, {shown})"
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise CheckFailure(f"{call} must return a float, got {type(value).__name__}")
            value = float(value)
            if not math.isfinite(value):
                raise CheckFailure(f"{call} returned {value}")
            if abs(value - want) > SCHEDULE_ATOL * scale + SCHEDULE_RTOL * abs(want):
                before = f" (step {step - 1}: {expected[step - 1]:.10g})" if step else ""
                raise CheckFailure(f"{call} = {value:.10g}, expected {want:.10g}{before}; "
                                   f"torch gives the rate after {step} call(s) of "
                                   "scheduler.step()")
    return compare


def _covering_all(hidden: Callable[[np.random.Generator], Sequence[Case]],
                  clauses: dict[str, str]) -> Callable[[np.random.Generator], list[Case]]:
    """``hidden`` with every case that names no clause covering all of them.

    A schedule case compares the whole sequence step = 0..N, so it exercises the whole formula;
    cases of the second-order exercises that do not exercise every clause name theirs.
    """
    def cases(rng: np.random.Generator) -> list[Case]:
        return [case if case.covers else dataclasses.replace(case, covers=tuple(clauses))
                for case in hidden(rng)]
    return cases


#: The clause every schedule states: its result is a Python (or numpy) float.
RETURNS_FLOAT = "float: the learning rate."


def _schedule_exercise(name: str, visible: Callable[[], Sequence[Case]],
                       hidden: Callable[[np.random.Generator], Sequence[Case]],
                       build: Callable[..., Callable], clauses: dict[str, str],
                       lr_param: str = "base_lr") -> Exercise:
    clauses = {**clauses, "returns_float": RETURNS_FLOAT}
    return Exercise(name=name, visible=visible, hidden=_covering_all(hidden, clauses),
                    oracle=_schedule_oracle(build, lr_param), compare=_schedule_compare(name),
                    call=_schedule_call, forbidden=("torch.optim.lr_scheduler",),
                    clauses=clauses)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(10 ** rng.uniform(np.log10(low), np.log10(high)))


# step_decay_lr -------------------------------------------------------------------------------


def _step_decay_visible() -> list[Case]:
    return [_schedule_case("step_decay_lr", 35, 0.1, 10, about="drops at steps 10, 20, 30"),
            _schedule_case("step_decay_lr", 12, 1.0, 3, 0.5, about="gamma 0.5 every 3 steps"),
            _schedule_case("step_decay_lr", 6, 0.3, 1, 0.7,
                           about="step_size 1: a drop at every step")]


def _step_decay_hidden(rng: np.random.Generator) -> list[Case]:
    size = int(rng.integers(4, 13))
    return [
        _schedule_case("step_decay_lr", 5 * size + 2, round(float(rng.uniform(0.01, 1.0)), 4),
                       size, round(float(rng.uniform(0.2, 0.9)), 3)),
        _schedule_case("step_decay_lr", 95, 0.05, 30),
        _schedule_case("step_decay_lr", 20, 2.0, 1, 0.5),
        _schedule_case("step_decay_lr", 4 * 7 + 1, _log_uniform(rng, 1e-7, 1e-5), 7,
                       gamma=0.3),
        _schedule_case("step_decay_lr", 25, _log_uniform(rng, 1e3, 1e5), 2, 0.8),
    ]


step_decay_lr = _schedule_exercise(
    "step_decay_lr", _step_decay_visible, _step_decay_hidden,
    lambda base_lr, step_size, gamma: lambda opt: lr_scheduler.StepLR(opt, step_size, gamma),
    {"formula": "lr = base_lr * gamma ** floor(step / step_size)",
     "drops": "(integer division: the rate drops at step = step_size, 2 step_size, ...)"})


# cosine_lr -----------------------------------------------------------------------------------


def _cosine_visible() -> list[Case]:
    return [_schedule_case("cosine_lr", 10, 0.1, 10, about="from base_lr to 0 at T_max"),
            _schedule_case("cosine_lr", 20, 1.0, 20, 0.1, about="down to eta_min 0.1"),
            _schedule_case("cosine_lr", 3, 0.4, 3, 0.01,
                           about="T_max 3: exactly eta_min at step 3")]


def _cosine_hidden(rng: np.random.Generator) -> list[Case]:
    t_max = int(rng.integers(5, 60))
    base = round(float(rng.uniform(0.01, 1.0)), 4)
    return [
        _schedule_case("cosine_lr", t_max, base, t_max, round(base * float(rng.uniform(0.05, 0.5)),
                                                               6)),
        _schedule_case("cosine_lr", 100, _log_uniform(rng, 1e2, 1e4), 100),
        _schedule_case("cosine_lr", 37, _log_uniform(rng, 1e-7, 1e-5), 37, eta_min=1e-9),
        _schedule_case("cosine_lr", 120, 0.3, 120, 0.003),
        _schedule_case("cosine_lr", 2, 0.5, 2),
        _schedule_case("cosine_lr", 1, 0.5, 1, 0.1),
    ]


cosine_lr = _schedule_exercise(
    "cosine_lr", _cosine_visible, _cosine_hidden,
    lambda base_lr, T_max, eta_min: lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max,
                                                                               eta_min),
    {"formula": "lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * step / T_max)) / 2",
     "ends": "so lr = base_lr at step 0 and lr = eta_min at step T_max"})


# warmup_lr -----------------------------------------------------------------------------------


def _warmup_visible() -> list[Case]:
    return [_schedule_case("warmup_lr", 10, 0.1, 5, about="5 warm-up steps, then flat"),
            _schedule_case("warmup_lr", 15, 1.0, 10, 0.25, about="start_factor 0.25"),
            _schedule_case("warmup_lr", 8, 0.4, 6, 0.5,
                           about="start_factor 0.5: 0.2 at step 0, 0.4 from step 6")]


def _warmup_hidden(rng: np.random.Generator) -> list[Case]:
    warmup = int(rng.integers(3, 30))
    return [
        _schedule_case("warmup_lr", warmup + 6, round(float(rng.uniform(0.01, 1.0)), 4), warmup,
                       round(float(rng.uniform(0.02, 0.8)), 3)),
        _schedule_case("warmup_lr", 60, 0.5, 4),
        _schedule_case("warmup_lr", 130, _log_uniform(rng, 1e2, 1e4), 100, start_factor=0.01),
        _schedule_case("warmup_lr", 12, _log_uniform(rng, 1e-7, 1e-5), 8, 0.5),
        _schedule_case("warmup_lr", 5, 0.2, 1, 0.3),
        _schedule_case("warmup_lr", 6, 0.2, 3, 1.0),
    ]


warmup_lr = _schedule_exercise(
    "warmup_lr", _warmup_visible, _warmup_hidden,
    lambda base_lr, warmup_steps, start_factor: lambda opt: lr_scheduler.LinearLR(
        opt, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps),
    {"formula": "lr = base_lr * (start_factor + (1 - start_factor) * min(step, warmup_steps) / "
                "warmup_steps)",
     "start": "so lr = start_factor * base_lr at step 0",
     "plateau": "lr = base_lr at every step >= warmup_steps"})


# cyclic_lr -----------------------------------------------------------------------------------


def _cyclic_visible() -> list[Case]:
    return [_schedule_case("cyclic_lr", 20, 0.001, 0.006, 4, about="step_size_up 4"),
            _schedule_case("cyclic_lr", 12, 0.01, 0.05, 3,
                           about="max_lr at steps 3 and 9, base_lr at 0, 6 and 12"),
            _schedule_case("cyclic_lr", 10, 0.2, 1.0, 2, about="step_size_up 2, 5 half cycles")]


def _cyclic_hidden(rng: np.random.Generator) -> list[Case]:
    size = int(rng.integers(3, 16))
    base = round(float(rng.uniform(1e-4, 1e-2)), 6)
    return [
        _schedule_case("cyclic_lr", 5 * size + 1, base,
                       round(base * float(rng.uniform(2.0, 20.0)), 6), size),
        _schedule_case("cyclic_lr", 45, 0.1, 1.0, 10),
        _schedule_case("cyclic_lr", 8, 0.01, 0.02, 1),
        _schedule_case("cyclic_lr", 30, 2.0, 2.0 + _log_uniform(rng, 1e2, 1e4), 6),
        _schedule_case("cyclic_lr", 26, 1e-8, _log_uniform(rng, 1e-7, 1e-5), 5),
    ]


cyclic_lr = _schedule_exercise(
    "cyclic_lr", _cyclic_visible, _cyclic_hidden,
    lambda base_lr, max_lr, step_size_up: lambda opt: lr_scheduler.CyclicLR(
        opt, base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up, mode="triangular",
        cycle_momentum=False),
    {"cycle": "cycle = floor(1 + step / (2 * step_size_up))",
     "triangle": "lr = base_lr + (max_lr - base_lr) * max(0, 1 - x)",
     "extremes": "so lr = base_lr at step 0, 2 step_size_up, 4 step_size_up, ... and lr = max_lr "
                 "at step_size_up, 3 step_size_up, ..."})


# sgdr_lr -------------------------------------------------------------------------------------


def _sgdr_visible() -> list[Case]:
    return [_schedule_case("sgdr_lr", 30, 0.1, 10, about="restarts at steps 10, 20, 30"),
            _schedule_case("sgdr_lr", 40, 0.1, 5, 2, 0.001,
                           about="T_mult 2: restarts at steps 5, 15, 35"),
            _schedule_case("sgdr_lr", 20, 0.3, 2, 3,
                           about="T_0 2, T_mult 3: restarts at steps 2 and 8")]


def _sgdr_hidden(rng: np.random.Generator) -> list[Case]:
    t0 = int(rng.integers(2, 7))
    mult = int(rng.integers(2, 4))
    base = round(float(rng.uniform(0.01, 1.0)), 4)
    return [
        _schedule_case("sgdr_lr", t0 * (1 + mult + mult**2) + 3, base, t0, mult,
                       round(base * float(rng.uniform(0.01, 0.3)), 6)),
        _schedule_case("sgdr_lr", 40, 0.5, 1, 2),
        _schedule_case("sgdr_lr", 35, 0.2, 7, eta_min=0.02),
        _schedule_case("sgdr_lr", 3 * 4 + 2, 0.2, 4, 1),
        _schedule_case("sgdr_lr", 70, _log_uniform(rng, 1e2, 1e4), 3, 3),
        _schedule_case("sgdr_lr", 30, _log_uniform(rng, 1e-7, 1e-5), 2, 2, 1e-9),
        # Restart 5 at step 3 (3^5 - 1) / 2 = 363, where log(243) / log(3) = 4.999999999999999:
        # a closed form through a floating-point logarithm finds the wrong period there.
        _schedule_case("sgdr_lr", 400, 0.1, 3, 3),
    ]


sgdr_lr = _schedule_exercise(
    "sgdr_lr", _sgdr_visible, _sgdr_hidden,
    lambda base_lr, T_0, T_mult, eta_min: lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=T_0, T_mult=T_mult, eta_min=eta_min),
    {"periods": "The periods have lengths T_i = T_0 * T_mult ** i (i = 0, 1, 2, ...), one after "
                "the other: period i covers the steps start_i <= step < start_i + T_i, with "
                "start_0 = 0 and start_{i+1} = start_i + T_i.",
     "formula": "lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2",
     "restarts": "so lr = base_lr at step 0 and at every restart step start_i",
     "never_eta_min": "and never exactly eta_min"})


# one_cycle_lr --------------------------------------------------------------------------------


def _one_cycle_visible() -> list[Case]:
    return [_schedule_case("one_cycle_lr", 19, 0.1, 20, about="defaults, 20 steps"),
            _schedule_case("one_cycle_lr", 49, 1.0, 50, 0.25, 10.0, 100.0,
                           about="end_1 = 11.5 falls between two steps"),
            _schedule_case("one_cycle_lr", 9, 0.2, 10, 0.35, about="10 steps, end_1 = 2.5")]


def _one_cycle_hidden(rng: np.random.Generator) -> list[Case]:
    total = int(rng.integers(30, 200))
    pct = round(float(rng.uniform(0.1, 0.6)), 3)
    return [
        _schedule_case("one_cycle_lr", total - 1, round(float(rng.uniform(0.01, 1.0)), 4), total,
                       pct, round(float(rng.uniform(5.0, 50.0)), 2),
                       round(_log_uniform(rng, 10.0, 1e4), 1)),
        # pct_start * total_steps = 7.5: phase 1 ends between two steps.
        _schedule_case("one_cycle_lr", 24, 0.01, 25),
        _schedule_case("one_cycle_lr", 99, 2.0, 100, 0.4, 5.0, 1e3),
        _schedule_case("one_cycle_lr", 6, 0.3, 7, 0.5),
        _schedule_case("one_cycle_lr", 59, _log_uniform(rng, 1e2, 1e4), 60, div_factor=10.0),
        _schedule_case("one_cycle_lr", 39, _log_uniform(rng, 1e-7, 1e-5), 40, 0.2,
                       final_div_factor=50.0),
    ]


one_cycle_lr = _schedule_exercise(
    "one_cycle_lr", _one_cycle_visible, _one_cycle_hidden,
    lambda max_lr, total_steps, pct_start, div_factor, final_div_factor: (
        lambda opt: lr_scheduler.OneCycleLR(
            opt, max_lr=max_lr, total_steps=total_steps, pct_start=float(pct_start),
            anneal_strategy="cos", div_factor=div_factor, final_div_factor=final_div_factor,
            three_phase=False)),
    {"end_1": "end_1 = float(pct_start * total_steps) - 1 (a float, not rounded)",
     "min_lr": "min_lr = initial_lr / final_div_factor",
     "anneal": "anneal(a, b, pct) = b + (a - b) * (1 + cos(pi * pct)) / 2",
     "phases": "if step <= end_1: lr = anneal(initial_lr, max_lr, step / end_1) else: lr = "
               "anneal(max_lr, min_lr, (step - end_1) / (end_2 - end_1))"},
    lr_param="max_lr")


# ---------------------------------------------------------------------------------------------
# newton_step
# ---------------------------------------------------------------------------------------------

#: Largest relative residual |H (theta - theta_new) - g| / (|H| |theta - theta_new| + |g|) allowed.
#: A backward-stable solve (np.linalg.solve, lstsq, Cholesky, LDL^T, eigh) stays below ~1e-14
#: (n <= 20); np.linalg.inv(H) @ g is above ~4e-10 on the ill-conditioned cases below.
NEWTON_RESIDUAL = 1e-11

NEWTON_CLAUSES = {
    "step": "One Newton step theta - H^{-1} g, with H^{-1} g computed by solving H d = g.",
    "residual": "the tests require the relative residual |H (theta - theta_new) - grad| / (|H| "
                "|theta - theta_new| + |grad|) <= 1e-11 (2-norms), also for ill-conditioned H "
                "(cond(H) ~ 1e13)",
    "indefinite": "symmetric and invertible (not necessarily positive definite)",
    "unchanged": "Must be left unchanged.",
    "returns": "the new parameters theta - H^{-1} grad, shape (n,), float64.",
}
#: The clauses a case with a positive definite H exercises (all but "indefinite").
_NEWTON_DEFINITE = tuple(key for key in NEWTON_CLAUSES if key != "indefinite")


def _symmetric(rng: np.random.Generator, eigenvalues: Sequence[float]) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    """A symmetric matrix with the given eigenvalues and a random orthogonal basis."""
    n = len(eigenvalues)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    m = (q * np.asarray(eigenvalues, dtype=np.float64)) @ q.T
    return (m + m.T) / 2, q


def _newton_case(label: str, theta, grad, hess, covers: tuple[str, ...] = ()) -> Case:
    return Case(label, (np.asarray(theta, dtype=np.float64), np.asarray(grad, dtype=np.float64),
                        np.asarray(hess, dtype=np.float64)), covers=covers)


def _ill_conditioned(rng: np.random.Generator, n: int, cond: float, scale: float,
                     indefinite: bool) -> Case:
    """H with eigenvalues spread geometrically over ``cond``, g in its stiff directions.

    Then the Newton step is small and well determined by H, and the residual of
    ``inv(H) @ g`` is about cond * eps times |g|, while a solve's is about eps times |g|.
    """
    eigenvalues = np.geomspace(1.0, cond, n) * scale
    if indefinite:
        eigenvalues = eigenvalues * rng.choice([-1.0, 1.0], n)
    H, q = _symmetric(rng, eigenvalues)
    k = max(1, n // 3)
    g = q[:, -k:] @ rng.standard_normal(k) * _log_uniform(rng, 1e-2, 1e2)
    theta = rng.standard_normal(n) * float(np.linalg.norm(g)) / (scale * cond)
    kind = "indefinite" if indefinite else "positive definite"
    covers = tuple(NEWTON_CLAUSES) if indefinite else _NEWTON_DEFINITE
    return _newton_case(f"ill-conditioned {kind} H (cond {cond:.1e}), n={n}", theta, g, H,
                        covers=covers)


def _newton_visible() -> list[Case]:
    rng = np.random.default_rng(30)
    return [
        _newton_case("2-D quadratic", [1.0, -2.0], [3.0, -1.0], [[4.0, 1.0], [1.0, 3.0]]),
        _newton_case("3-D saddle (indefinite H)", [0.5, 0.0, -1.0], [1.0, 2.0, -0.5],
                     [[2.0, 0.5, 0.0], [0.5, -1.0, 0.3], [0.0, 0.3, 1.5]]),
        _ill_conditioned(rng, 8, 1e12, 1.0, False),
    ]


def _newton_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    n = int(rng.integers(5, 21))
    H, _ = _symmetric(rng, np.geomspace(0.5, 500.0, n))
    cases.append(_newton_case(f"positive definite, n={n}", rng.standard_normal(n),
                              rng.standard_normal(n), H, covers=_NEWTON_DEFINITE))
    H, _ = _symmetric(rng, [-3.0, -0.5, 0.7, 1.0, 2.0, 6.0])
    cases.append(_newton_case("saddle, n=6", rng.standard_normal(6), rng.standard_normal(6), H))
    H, _ = _symmetric(rng, np.geomspace(1e7, 1e9, 4))
    cases.append(_newton_case("huge magnitudes", rng.standard_normal(4) * 1e3,
                              rng.standard_normal(4) * 1e9, H, covers=_NEWTON_DEFINITE))
    H, _ = _symmetric(rng, np.geomspace(1e-9, 1e-7, 3))
    cases.append(_newton_case("tiny magnitudes", rng.standard_normal(3) * 1e-3,
                              rng.standard_normal(3) * 1e-10, H, covers=_NEWTON_DEFINITE))
    cases.append(_newton_case("one variable", [0.7], [-2.0], [[0.25]], covers=_NEWTON_DEFINITE))
    for indefinite in (False, True, False):
        cases.append(_ill_conditioned(rng, int(rng.integers(6, 17)),
                                      _log_uniform(rng, 1e12, 3e13),
                                      _log_uniform(rng, 1e-3, 1e3), indefinite))
    return cases


def _newton_oracle(case: Case) -> dict[str, Any]:
    theta, grad, hess = (torch.as_tensor(a, dtype=torch.float64) for a in case.args)
    step = torch.linalg.solve(hess, grad)
    eigenvalues = np.abs(torch.linalg.eigvalsh(hess).numpy())
    return {"theta_new": (theta - step).numpy(), "step": step.numpy(),
            "norm": float(eigenvalues.max()), "cond": float(eigenvalues.max() / eigenvalues.min())}


def _newton_compare(got: Any, expected: dict[str, Any], case: Case) -> None:
    theta, grad, hess = case.args
    got = require_ndarray(got, theta.shape, "new parameters")
    if not np.all(np.isfinite(got)):
        raise CheckFailure(f"result contains NaN or inf: {got}")
    # Any solve is only accurate to about cond(H) * eps in the directions of small curvature.
    scale = float(np.max(np.abs(expected["step"])))
    atol = 1e3 * EPS * (expected["cond"] * scale + float(np.max(np.abs(theta))))
    assert_close(got, expected["theta_new"], atol=atol, rtol=1e-10)
    step = theta - got
    residual = float(np.linalg.norm(hess @ step - grad))
    norm = expected["norm"]
    bound = (NEWTON_RESIDUAL * (norm * float(np.linalg.norm(step)) + float(np.linalg.norm(grad)))
             + 8 * EPS * norm * (float(np.linalg.norm(theta)) + float(np.linalg.norm(got))))
    if residual > bound:
        relative = residual / (norm * float(np.linalg.norm(step)) + float(np.linalg.norm(grad)))
        raise CheckFailure(
            f"the step theta - theta_new does not solve H step = grad accurately: relative "
            f"residual {relative:.2e} > {NEWTON_RESIDUAL:g} (cond(H) = {expected['cond']:.1e}). "
            "Solve the linear system (np.linalg.solve) instead of forming the inverse of H.")


newton_step = Exercise(
    name="newton_step",
    visible=_newton_visible,
    hidden=_covering_all(_newton_hidden, NEWTON_CLAUSES),
    oracle=_newton_oracle,
    compare=_newton_compare,
    forbidden=("scipy.optimize",),
    clauses=NEWTON_CLAUSES,
)


# ---------------------------------------------------------------------------------------------
# bfgs_update
# ---------------------------------------------------------------------------------------------


def reference_bfgs_update(H_inv: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(I - rho s y^T) H (I - rho y s^T) + rho s s^T with rho = 1 / (y^T s), in float64."""
    H_inv, s, y = (np.asarray(a, dtype=np.float64) for a in (H_inv, s, y))
    rho = 1.0 / float(y @ s)
    left = np.eye(s.size) - rho * np.outer(s, y)
    return left @ H_inv @ left.T + rho * np.outer(s, s)


def _bfgs_case(label: str, H_inv, s, y) -> Case:
    return Case(label, tuple(np.asarray(a, dtype=np.float64) for a in (H_inv, s, y)))


BFGS_CLAUSES = {
    "formula": "H_new = (I - rho s y^T) H_inv (I - rho y s^T) + rho s s^T",
    "outer": "(s y^T is the outer product, an (n, n) matrix)",
    "symmetric": "H_new is symmetric",
    "secant": "satisfies the secant condition H_new y = s",
    "positive_curvature": "with y^T s > 0",
    "unchanged": "Must be left unchanged.",
    "returns": "H_new, shape (n, n), float64.",
}


def _curvature_pair(rng: np.random.Generator, A: np.ndarray, s_scale: float = 1.0,
                    y_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """s random, y = A s (A positive definite) slightly perturbed, so y^T s > 0."""
    s = rng.standard_normal(A.shape[0])
    y = A @ s
    y = y + 0.1 * np.linalg.norm(y) / np.sqrt(s.size) * rng.standard_normal(s.size)
    if y @ s <= 0.1 * np.linalg.norm(y) * np.linalg.norm(s):
        y = A @ s
    return s * s_scale, y * y_scale


def _bfgs_visible() -> list[Case]:
    return [
        _bfgs_case("H = I in 2-D", np.eye(2), [1.0, 0.5], [2.0, 1.5]),
        _bfgs_case("3-D, H not the identity", [[2.0, 0.3, 0.0], [0.3, 1.0, -0.2],
                                               [0.0, -0.2, 0.5]],
                   [0.2, -0.1, 0.4], [0.5, -0.1, 0.6]),
        _bfgs_case("4-D, small curvature y^T s = 0.01 (rho = 100)",
                   np.diag([1.0, 2.0, 0.5, 1.0]), [0.1, 0.0, -0.1, 0.05],
                   [0.05, 0.3, -0.05, 0.0]),
    ]


def _bfgs_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for n in (4, 10, 20):
        A, _ = _symmetric(rng, np.geomspace(0.1, 100.0, n))
        H, _ = _symmetric(rng, np.geomspace(0.05, 5.0, n))
        s, y = _curvature_pair(rng, A)
        cases.append(_bfgs_case(f"n={n}", H, s, y))
    A, _ = _symmetric(rng, np.geomspace(1e3, 1e6, 5))
    H, _ = _symmetric(rng, np.geomspace(1e-6, 1e-3, 5))
    s, y = _curvature_pair(rng, A, s_scale=1e-7, y_scale=1.0)
    cases.append(_bfgs_case("tiny steps, stiff curvature", H, s, y))
    A, _ = _symmetric(rng, np.geomspace(1e-6, 1e-4, 6))
    H, _ = _symmetric(rng, np.geomspace(1e3, 1e5, 6))
    s, y = _curvature_pair(rng, A, s_scale=1e4, y_scale=1.0)
    cases.append(_bfgs_case("huge steps, flat curvature", H, s, y))
    cases.append(_bfgs_case("one variable", [[0.5]], [0.3], [1.2]))
    # Several consecutive updates along a quadratic: H built by earlier BFGS updates.
    A, _ = _symmetric(rng, np.geomspace(0.2, 30.0, 7))
    H = np.eye(7)
    for k in range(3):
        s, y = _curvature_pair(rng, A)
        cases.append(_bfgs_case(f"update {k + 1} of a sequence, n=7", H, s, y))
        H = reference_bfgs_update(H, s, y)
    # Tiny but positive curvature, y^T s ~ 1e-12: the update is still defined (and large). An
    # implementation that skips it below some threshold, as line-search codes do, returns H_inv.
    A, _ = _symmetric(rng, np.geomspace(1e-13, 1e-12, 6))
    H, _ = _symmetric(rng, np.geomspace(0.1, 10.0, 6))
    s, y = _curvature_pair(rng, A)
    cases.append(_bfgs_case("tiny but positive curvature y^T s ~ 1e-12", H, s, y))
    return cases


def _bfgs_oracle(case: Case) -> dict[str, Any]:
    H, s, y = case.args
    rho = 1.0 / float(y @ s)
    Hy = H @ y
    # Size of the terms of the expanded formula, to scale the tolerances.
    terms = (float(np.max(np.abs(H))) + 2 * rho * float(np.max(np.abs(s)) * np.max(np.abs(Hy)))
             + (rho * rho * abs(float(y @ Hy)) + rho) * float(np.max(np.abs(s))) ** 2)
    return {"H_new": reference_bfgs_update(H, s, y), "terms": terms}


def _bfgs_compare(got: Any, expected: dict[str, Any], case: Case) -> None:
    H, s, y = case.args
    n = s.size
    got = require_ndarray(got, (n, n), "updated inverse Hessian")
    if not np.all(np.isfinite(got)):
        raise CheckFailure(f"result contains NaN or inf: {got}")
    terms = expected["terms"]
    asymmetry = float(np.max(np.abs(got - got.T)))
    if asymmetry > 1e-10 * terms:
        raise CheckFailure(f"the update must be symmetric, but max |H - H^T| = {asymmetry:.3g}")
    secant = float(np.max(np.abs(got @ y - s)))
    allowed = 1e-9 * (terms * float(np.sum(np.abs(y))) + float(np.max(np.abs(s))))
    if secant > allowed:
        raise CheckFailure(f"the secant condition H_new y = s fails: max |H_new y - s| = "
                           f"{secant:.3g} (s = {np.array2string(s[:4], precision=4)}...)")
    assert_close(got, expected["H_new"], atol=1e-12 * terms, rtol=1e-10)


bfgs_update = Exercise(
    name="bfgs_update",
    visible=_bfgs_visible,
    hidden=_covering_all(_bfgs_hidden, BFGS_CLAUSES),
    oracle=_bfgs_oracle,
    compare=_bfgs_compare,
    forbidden=("torch.optim", "scipy.optimize"),
    clauses=BFGS_CLAUSES,
)


# ---------------------------------------------------------------------------------------------
# lbfgs_direction
# ---------------------------------------------------------------------------------------------


def reference_lbfgs_direction(grad: np.ndarray, s_history: Sequence[np.ndarray],
                              y_history: Sequence[np.ndarray]) -> np.ndarray:
    """-H grad with H = the BFGS updates of gamma * I by the pairs, oldest first."""
    n = grad.size
    if s_history:
        s, y = s_history[-1], y_history[-1]
        gamma = float(s @ y) / float(y @ y)
    else:
        gamma = 1.0
    H = gamma * np.eye(n)
    for s, y in zip(s_history, y_history, strict=True):
        H = reference_bfgs_update(H, s, y)
    return -(H @ grad)


def _lbfgs_case(label: str, grad, s_history, y_history) -> Case:
    as64 = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
    covers = tuple(LBFGS_CLAUSES) if s_history else _LBFGS_NO_PAIRS
    return Case(label, (as64(grad), [as64(s) for s in s_history], [as64(y) for y in y_history]),
                covers=covers)


LBFGS_CLAUSES = {
    "direction": "The L-BFGS search direction -H grad",
    "pairs_oldest_first": "for each stored pair (s_history[i], y_history[i]), oldest first",
    "gamma": "gamma = s^T y / (y^T y) of the newest pair (s_history[-1], y_history[-1])",
    "no_pairs": "with no pairs, gamma = 1 and the direction is -grad",
    "loops": "(first loop newest to oldest, second loop oldest to newest)",
    "grad_unchanged": "Must be left unchanged.",
    "history_unchanged": "Neither list (nor its arrays) may be modified.",
    "returns": "the direction -H grad, shape (n,), float64.",
}
#: What a case without pairs exercises.
_LBFGS_NO_PAIRS = ("direction", "no_pairs", "grad_unchanged", "history_unchanged", "returns")


def _history(rng: np.random.Generator, n: int, m: int, s_scale: float = 1.0,
             y_scale: float = 1.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """m pairs from a quadratic with curvatures 0.1..100, each pair's y rescaled differently,
    so the pairs' ratios s^T y / y^T y differ."""
    A, _ = _symmetric(rng, np.geomspace(0.1, 100.0, n))
    pairs = [_curvature_pair(rng, A) for _ in range(m)]
    factors = np.geomspace(0.2, 5.0, m) if m > 1 else np.ones(1)
    factors = factors[rng.permutation(m)]
    return ([s * s_scale for s, _ in pairs],
            [y * f * y_scale for (_, y), f in zip(pairs, factors, strict=True)])


def _lbfgs_visible() -> list[Case]:
    rng = np.random.default_rng(31)
    S, Y = _history(rng, 4, 3)
    return [
        _lbfgs_case("no pairs yet: steepest descent", [1.0, -2.0, 0.5], [], []),
        _lbfgs_case("one pair in 2-D", [1.0, 1.0], [[0.5, -0.2]], [[1.0, 0.1]]),
        _lbfgs_case("three pairs in 4-D", rng.standard_normal(4), S, Y),
    ]


def _lbfgs_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for n, m in ((6, 2), (10, 5), (20, 8), (5, 8)):
        S, Y = _history(rng, n, m)
        cases.append(_lbfgs_case(f"{m} pairs, n={n}", rng.standard_normal(n), S, Y))
    S, Y = _history(rng, 8, 4, s_scale=1e-6, y_scale=1e3)
    cases.append(_lbfgs_case("tiny steps, large gradient differences", rng.standard_normal(8)
                             * 1e-8, S, Y))
    S, Y = _history(rng, 7, 6, s_scale=1e5, y_scale=1e-4)
    cases.append(_lbfgs_case("huge steps, tiny gradient differences", rng.standard_normal(7)
                             * 1e6, S, Y))
    S, Y = _history(rng, 3, 1)
    cases.append(_lbfgs_case("one pair, n=3", rng.standard_normal(3), S, Y))
    cases.append(_lbfgs_case("no pairs, n=5", rng.standard_normal(5), [], []))
    return cases


def _lbfgs_call(impl: Callable, case: Case) -> Any:
    grad, S, Y = case.args
    args = (grad.copy(), [s.copy() for s in S], [y.copy() for y in Y])
    got = impl(*args)
    if not np.array_equal(args[0], grad):
        raise CheckFailure(f"lbfgs_direction modified grad in place (case: {case.label}); "
                           "work on a copy instead.")
    for given, original, what in ((args[1], S, "s_history"), (args[2], Y, "y_history")):
        if (len(given) != len(original)
                or not all(a.shape == b.shape and np.array_equal(a, b)
                           for a, b in zip(given, original, strict=True))):
            raise CheckFailure(f"lbfgs_direction modified its input {what} (case: {case.label}); "
                               "do not reverse, pop or change the lists or their arrays.")
    return got


def _lbfgs_compare(got: Any, expected: np.ndarray, case: Case) -> None:
    got = require_ndarray(got, expected.shape, "direction")
    assert_close(got, expected, atol=1e-9 * float(np.max(np.abs(expected))))


lbfgs_direction = Exercise(
    name="lbfgs_direction",
    visible=_lbfgs_visible,
    hidden=_lbfgs_hidden,
    oracle=lambda case: reference_lbfgs_direction(*case.args),
    compare=_lbfgs_compare,
    call=_lbfgs_call,
    forbidden=("torch.optim", "scipy.optimize"),
    clauses=LBFGS_CLAUSES,
)

#: Every exercise of the notebook, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for ex in (step_decay_lr, cosine_lr, warmup_lr, cyclic_lr, sgdr_lr, one_cycle_lr,
               newton_step, bfgs_update, lbfgs_direction)
}
