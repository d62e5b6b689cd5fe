"""Checks of ``a03_adaptive_lr/adaptive_methods.ipynb``: AdaGrad, RMSProp, Adam, RAdam, diffGrad
and an Adam optimizer class.

Each module-level :class:`~autograder.checks.core.Exercise` is named after the student function
or class it checks. The step functions are run for several consecutive steps, the state they
return being fed back into the next call (a fixed sequence of gradients, independent of ``w``);
every ``w`` and state of the trajectory is compared with the oracle: the ``torch.optim``
optimizer in float64 (``foreach=False``) whose state is set to the case's initial state, or, for
diffGrad (no PyTorch equivalent), the formula of the docstring in float64. The optimizer class is
compared with ``torch.optim.Adam`` after 20 training steps of the same model on the same batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.checks.core import (
    Case,
    CheckFailure,
    Exercise,
    compare_trajectory,
)

#: Relative tolerance of every state and parameter of a step function's trajectory. Differently
#: written correct float64 code differs from the oracle by a few rounding errors per step.
RTOL = 1e-10
#: Absolute tolerance, relative to the largest magnitude the same entry takes over the trajectory
#: (entries that cancel to almost zero are compared on the scale of their own history).
ATOL_FACTOR = 1e-12


# ---------------------------------------------------------------------------------------------
# The step functions: cases, calling the student's function step after step, comparing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StepSpec:
    """How one step function is called and what it returns.

    Attributes:
        name: The function's name.
        state: Names of the state arrays, in argument and return order after ``w``.
        uses_t: Whether ``t`` (the 1-based step number) follows the state arrays.
        uses_prev: Whether ``prev_dw`` comes between ``dw`` and the state (diffGrad).
    """

    name: str
    state: tuple[str, ...]
    uses_t: bool = False
    uses_prev: bool = False

    @property
    def returns(self) -> str:
        return "(" + ", ".join(("w", *self.state)) + ")"


ADAGRAD = _StepSpec("adagrad_step", ("G",))
RMSPROP = _StepSpec("rmsprop_step", ("s",))
ADAM = _StepSpec("adam_step", ("m", "v"), uses_t=True)
RADAM = _StepSpec("radam_step", ("m", "v"), uses_t=True)
DIFFGRAD = _StepSpec("diffgrad_step", ("m", "v"), uses_t=True, uses_prev=True)


def _steps_case(spec: _StepSpec, label: str, w0: Any, grads: Sequence[Any],
                state0: Sequence[Any] | None = None, t0: int = 1, prev0: Any = None,
                **hyper: Any) -> Case:
    """A trajectory: start at ``w0`` with ``state0`` (zeros by default) and step number ``t0``,
    then take one step per gradient of ``grads``; ``hyper`` is passed by keyword."""
    w0 = np.asarray(w0, dtype=np.float64)
    grads = [np.broadcast_to(np.asarray(g, dtype=np.float64), w0.shape).copy() for g in grads]
    if state0 is None:
        state0 = [np.zeros_like(w0) for _ in spec.state]
    state0 = tuple(np.asarray(s, dtype=np.float64) for s in state0)
    prev0 = np.zeros_like(w0) if prev0 is None else np.asarray(prev0, dtype=np.float64)
    return Case(label, (), hyper, data={"w0": w0, "grads": grads, "state0": state0, "t0": t0,
                                        "prev0": prev0})


def _step_args(spec: _StepSpec, w: np.ndarray, dw: np.ndarray, prev: np.ndarray,
               state: Sequence[np.ndarray], t: int) -> tuple:
    args: list[Any] = [w, dw]
    if spec.uses_prev:
        args.append(prev)
    args.extend(state)
    if spec.uses_t:
        args.append(t)
    return tuple(args)


def _arg_names(spec: _StepSpec) -> list[str]:
    return ["w", "dw", *(["prev_dw"] if spec.uses_prev else []), *spec.state]


def _parse(spec: _StepSpec, result: Any, shape: tuple[int, ...]) -> list[np.ndarray] | None:
    """The arrays of a well-formed result, or None when it cannot be fed to the next step."""
    if not isinstance(result, (tuple, list)) or len(result) != 1 + len(spec.state):
        return None
    if not all(type(a) is np.ndarray and a.shape == shape for a in result):
        return None
    return [np.array(a, dtype=np.float64) for a in result]


def _exception(error: Exception) -> str:
    """``Name: message`` of an exception, or just its name when the message is empty."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _steps_call(spec: _StepSpec) -> Callable[[Callable, Case], list[Any]]:
    """Call the student's step function once per gradient, feeding its result back in.

    Returns the raw result of every step (the comparison validates them). Stops early when a
    result is malformed (it cannot be fed back). Fails when the function modifies one of its
    array arguments or raises.
    """

    def call(impl: Callable, case: Case) -> list[Any]:
        w = case.data["w0"].copy()
        state = [s.copy() for s in case.data["state0"]]
        prev = case.data["prev0"].copy()
        results = []
        for k, grad in enumerate(case.data["grads"]):
            t = case.data["t0"] + k
            args = _step_args(spec, w.copy(), grad.copy(), prev.copy(), [s.copy() for s in state],
                              t)
            before = [a.copy() for a in args if isinstance(a, np.ndarray)]
            try:
                result = impl(*args, **case.kwargs)
            except NotImplementedError:
                raise  # the unanswered stub: reported as "not attempted"
            except Exception as error:  # any other exception of the student's code is a failure
                raise CheckFailure(f"{spec.name} raised {_exception(error)} (case: {case.label}, "
                                   f"step {k + 1}, t = {t})") from error
            arrays = [a for a in args if isinstance(a, np.ndarray)]
            for name, old, new in zip(_arg_names(spec), before, arrays, strict=True):
                if not np.array_equal(old, new, equal_nan=True):
                    raise CheckFailure(f"{spec.name} modified its input array {name!r} in place "
                                       f"(case: {case.label}, step {k + 1}); work on a copy and "
                                       "return new arrays.")
            results.append(result)
            parsed = _parse(spec, result, w.shape)
            if parsed is None:
                break
            w, *state = parsed
            prev = grad
        return results

    return call


def _steps_compare(spec: _StepSpec) -> Callable[[list[Any], list[dict[str, np.ndarray]], Case],
                                                None]:
    """Compare every step's ``w`` and state with the oracle's trajectory."""

    def compare(got: list[Any], expected: list[dict[str, np.ndarray]], case: Case) -> None:
        compare_trajectory(got, expected, ("w", *spec.state), case.data["w0"].shape,
                           atol_factor=ATOL_FACTOR, rtol=RTOL, t0=case.data["t0"],
                           returns=spec.returns)

    return compare


def _record(spec: _StepSpec, w: np.ndarray, state: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    return {"w": np.array(w, dtype=np.float64),
            **{name: np.array(s, dtype=np.float64) for name, s in zip(spec.state, state,
                                                                       strict=True)}}


def _torch_trajectory(spec: _StepSpec, case: Case, make: Callable[[torch.Tensor], Any],
                      state_keys: tuple[str, ...]) -> list[dict[str, np.ndarray]]:
    """Run a ``torch.optim`` optimizer on one float64 tensor, its state set to the case's."""
    p = torch.tensor(case.data["w0"], dtype=torch.float64, requires_grad=True)
    optimizer = make(p)
    state = optimizer.state[p]
    state["step"] = torch.tensor(float(case.data["t0"] - 1), dtype=torch.float32)
    for key, value in zip(state_keys, case.data["state0"], strict=True):
        state[key] = torch.tensor(value, dtype=torch.float64)
    trajectory = []
    for grad in case.data["grads"]:
        p.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
        trajectory.append(_record(spec, p.detach().numpy(),
                                  [state[key].numpy() for key in state_keys]))
    return trajectory


def _hyper(case: Case, name: str, default: float) -> float:
    return float(case.kwargs.get(name, default))


def _signed(rng: np.random.Generator, magnitudes: np.ndarray, num_steps: int) -> list[np.ndarray]:
    """Gradients with the given magnitudes (+-50 %), random signs that flip from step to step."""
    return [magnitudes * rng.uniform(0.5, 1.5, magnitudes.shape)
            * rng.choice([-1.0, 1.0], magnitudes.shape) for _ in range(num_steps)]


def _mixed_magnitudes(rng: np.random.Generator, num_steps: int) -> list[np.ndarray]:
    """A 2-D gradient whose columns have magnitudes 1e-10, 1e-3, 1, 1e6 and 0 (always zero);
    one entry is zero on every other step only."""
    magnitudes = np.tile(np.array([1e-10, 1e-3, 1.0, 1e6, 0.0]), (3, 1))
    grads = _signed(rng, magnitudes, num_steps)
    for k in range(0, num_steps, 2):
        grads[k][1, 2] = 0.0
    return grads


def _normal(rng: np.random.Generator, shape: tuple[int, ...], num_steps: int,
            scale: float = 1.0) -> list[np.ndarray]:
    return [rng.normal(size=shape) * scale for _ in range(num_steps)]


def _common_hidden(spec: _StepSpec, rng: np.random.Generator, hyper: dict[str, Any],
                   lr: dict[str, float]) -> list[Case]:
    """The hidden cases every step function shares: 10 steps each, 1-D and 2-D, tiny, huge,
    mixed magnitudes with zeros, non-default hyperparameters.

    Args:
        hyper: Non-default hyperparameters of the function (besides ``lr``).
        lr: Learning rates for the keys ``"default"``, ``"tiny"``, ``"huge"``.
    """
    n = 10
    defaults = []
    if spec.uses_t:  # lr has a default (1e-3) too
        defaults.append(_steps_case(spec, "all hyperparameters at their defaults",
                                    rng.normal(size=4), _normal(rng, (4,), n)))
    return [
        *defaults,
        _steps_case(spec, "10 steps, 1-D", rng.normal(size=5), _normal(rng, (5,), n),
                    lr=lr["default"]),
        _steps_case(spec, "10 steps, 2-D, non-default hyperparameters",
                    rng.normal(size=(3, 4)), _normal(rng, (3, 4), n),
                    lr=lr["default"] * 3, **hyper),
        _steps_case(spec, "tiny gradients ~1e-10 (where eps goes matters)",
                    rng.normal(size=6), _normal(rng, (6,), n, 1e-10), lr=lr["tiny"]),
        _steps_case(spec, "tiny gradients ~1e-10, non-default hyperparameters",
                    rng.normal(size=(2, 3)), _normal(rng, (2, 3), n, 1e-10), lr=lr["tiny"],
                    **hyper),
        _steps_case(spec, "huge gradients ~1e6", rng.normal(size=4) * 10.0,
                    _normal(rng, (4,), n, 1e6), lr=lr["huge"]),
        _steps_case(spec, "mixed magnitudes 1e-10 ... 1e6 and zeros, signs flipping, 2-D",
                    rng.normal(size=(3, 5)), _mixed_magnitudes(rng, n), lr=lr["default"]),
        _steps_case(spec, "w starts at zero, constant gradient", np.zeros(3),
                    [np.array([0.5, -2.0, 1e-4])] * n, lr=lr["default"]),
    ]


#: Words of a case's label that make eps matter (gradients tiny next to eps, or mixed with them).
_EPS_LABELS = ("tiny", "mixed", "eps")


def _covering(hidden: Callable[[np.random.Generator], Sequence[Case]], clauses: dict[str, str],
              eps_keys: tuple[str, ...] = ("eps",)) -> Callable[[np.random.Generator],
                                                                 list[Case]]:
    """``hidden`` with ``covers`` filled in: a trajectory compares every ``w`` and state and checks
    the inputs of every call, so each case covers every clause, except that where eps goes
    (``eps_keys``) is only exercised by the cases whose gradients are tiny (or mixed), or whose
    eps is not the default."""
    def cases(rng: np.random.Generator) -> list[Case]:
        done = []
        for case in hidden(rng):
            if not case.covers:
                eps = any(word in case.label for word in _EPS_LABELS) or "eps" in case.kwargs
                covers = tuple(k for k in clauses if eps or k not in eps_keys)
                case = dataclasses.replace(case, covers=covers)
            done.append(case)
        return done
    return cases


#: The clause every step function states of each input array.
_UNCHANGED = "Must be left unchanged."


# ---------------------------------------------------------------------------------------------
# adagrad_step: torch.optim.Adagrad
# ---------------------------------------------------------------------------------------------


def _adagrad_visible() -> list[Case]:
    rng = np.random.default_rng(11)
    return [
        _steps_case(ADAGRAD, "one step from G = 0", [1.0, -2.0, 0.5], [[0.3, -0.1, 2.0]],
                    lr=0.1),
        _steps_case(ADAGRAD, "5 steps in 2-D", rng.normal(size=(2, 2)), _normal(rng, (2, 2), 5),
                    lr=0.5),
        _steps_case(ADAGRAD, "tiny gradients ~1e-10: eps outside the sqrt",
                    [1.0, -1.0], [[2e-10, -1e-10], [-3e-10, 5e-11], [1e-10, 1e-10]], lr=0.1),
    ]


def _adagrad_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        *_common_hidden(ADAGRAD, rng, {"eps": 1e-6}, {"default": 0.1, "tiny": 0.01, "huge": 1.0}),
        _steps_case(ADAGRAD, "resuming with an accumulated G", rng.normal(size=4),
                    _normal(rng, (4,), 6), state0=[rng.uniform(0.5, 3.0, 4)], lr=0.3),
    ]


def _adagrad_oracle(case: Case) -> list[dict[str, np.ndarray]]:
    return _torch_trajectory(
        ADAGRAD, case,
        lambda p: torch.optim.Adagrad([p], lr=_hyper(case, "lr", 0.0), lr_decay=0.0,
                                      eps=_hyper(case, "eps", 1e-10), foreach=False),
        ("sum",))


ADAGRAD_CLAUSES = {
    "formula": "G_new = G + dw**2 w_new = w - lr * dw / (sqrt(G_new) + eps)",
    "before": "The accumulator is updated *before* the step (the step divides by sqrt(G_new))",
    "eps": "eps is added to the square root, not inside it",
    "unchanged": _UNCHANGED,
    "returns": "(w_new, G_new), new float64 arrays of w's shape.",
}

adagrad_step = Exercise(
    name="adagrad_step",
    visible=_adagrad_visible,
    hidden=_covering(_adagrad_hidden, ADAGRAD_CLAUSES),
    oracle=_adagrad_oracle,
    compare=_steps_compare(ADAGRAD),
    call=_steps_call(ADAGRAD),
    forbidden=("torch.optim",),
    clauses=ADAGRAD_CLAUSES,
)


# ---------------------------------------------------------------------------------------------
# rmsprop_step: torch.optim.RMSprop (not centered, no momentum)
# ---------------------------------------------------------------------------------------------


def _rmsprop_visible() -> list[Case]:
    rng = np.random.default_rng(12)
    return [
        _steps_case(RMSPROP, "one step from s = 0", [1.0, -2.0, 0.5], [[0.3, -0.1, 2.0]],
                    lr=0.01),
        _steps_case(RMSPROP, "5 steps in 2-D, alpha = 0.9", rng.normal(size=(2, 2)),
                    _normal(rng, (2, 2), 5), lr=0.01, alpha=0.9),
        _steps_case(RMSPROP, "tiny gradients ~1e-10: eps outside the sqrt",
                    [1.0, -1.0], [[2e-10, -1e-10], [-3e-10, 5e-11], [1e-10, 1e-10]], lr=0.1),
    ]


def _rmsprop_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        *_common_hidden(RMSPROP, rng, {"alpha": 0.8, "eps": 1e-6},
                        {"default": 0.01, "tiny": 1e-3, "huge": 0.1}),
        _steps_case(RMSPROP, "resuming with a running average s", rng.normal(size=4),
                    _normal(rng, (4,), 6), state0=[rng.uniform(0.1, 2.0, 4)], lr=0.01,
                    alpha=0.95),
    ]


def _rmsprop_oracle(case: Case) -> list[dict[str, np.ndarray]]:
    return _torch_trajectory(
        RMSPROP, case,
        lambda p: torch.optim.RMSprop([p], lr=_hyper(case, "lr", 0.0),
                                      alpha=_hyper(case, "alpha", 0.99),
                                      eps=_hyper(case, "eps", 1e-8), foreach=False),
        ("square_avg",))


RMSPROP_CLAUSES = {
    "formula": "s_new = alpha * s + (1 - alpha) * dw**2 w_new = w - lr * dw / (sqrt(s_new) + eps)",
    "before": "The average is updated *before* the step",
    "eps": "eps is added to the square root, not inside it",
    "unchanged": _UNCHANGED,
    "returns": "(w_new, s_new), new float64 arrays of w's shape.",
}

rmsprop_step = Exercise(
    name="rmsprop_step",
    visible=_rmsprop_visible,
    hidden=_covering(_rmsprop_hidden, RMSPROP_CLAUSES),
    oracle=_rmsprop_oracle,
    compare=_steps_compare(RMSPROP),
    call=_steps_call(RMSPROP),
    forbidden=("torch.optim",),
    clauses=RMSPROP_CLAUSES,
)


# ---------------------------------------------------------------------------------------------
# adam_step: torch.optim.Adam
# ---------------------------------------------------------------------------------------------


def _adam_visible() -> list[Case]:
    rng = np.random.default_rng(13)
    return [
        _steps_case(ADAM, "first step, m = v = 0", [1.0, -2.0, 0.5],
                    [[0.3, -0.1, 2.0]], lr=0.1),
        _steps_case(ADAM, "constant gradient: steps of lr", np.zeros(2),
                    [[1.0, -3.0]] * 4, lr=0.1),
        _steps_case(ADAM, "5 steps, betas (0.8, 0.99)", rng.normal(size=(2, 3)),
                    _normal(rng, (2, 3), 5), lr=0.01, beta1=0.8, beta2=0.99),
        _steps_case(ADAM, "tiny gradients: eps outside the sqrt",
                    [1.0, -1.0], _normal(rng, (2,), 3, 1e-10), lr=0.1),
    ]


_ADAM_HYPER = {"beta1": 0.8, "beta2": 0.95, "eps": 1e-6}
_ADAM_LR = {"default": 0.01, "tiny": 0.1, "huge": 0.5}


def _resume_case(spec: _StepSpec, rng: np.random.Generator, **hyper: Any) -> Case:
    return _steps_case(spec, "resuming at t = 4 with nonzero m and v", rng.normal(size=4),
                       _normal(rng, (4,), 7), t0=4,
                       state0=[rng.normal(size=4) * 0.3, rng.uniform(0.05, 1.0, 4)], **hyper)


def _adam_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        *_common_hidden(ADAM, rng, _ADAM_HYPER, _ADAM_LR),
        _resume_case(ADAM, rng, lr=0.02),
        _steps_case(ADAM, "beta2 = 0.9999, eps = 1e-12", rng.normal(size=3),
                    _normal(rng, (3,), 10), lr=0.01, beta2=0.9999, eps=1e-12),
    ]


def _adam_like_oracle(spec: _StepSpec, optimizer: type) -> Callable[[Case], list[dict]]:
    """The trajectory of ``torch.optim.Adam`` or ``torch.optim.RAdam``."""

    def oracle(case: Case) -> list[dict[str, np.ndarray]]:
        betas = (_hyper(case, "beta1", 0.9), _hyper(case, "beta2", 0.999))
        return _torch_trajectory(
            spec, case,
            lambda p: optimizer([p], lr=_hyper(case, "lr", 1e-3), betas=betas,
                                eps=_hyper(case, "eps", 1e-8), foreach=False),
            ("exp_avg", "exp_avg_sq"))

    return oracle


ADAM_CLAUSES = {
    "bias_correction": "m_hat = m_new / (1 - beta1**t) v_hat = v_new / (1 - beta2**t)",
    "t": "t (int): number of this step, counting from 1 (t = 1 on the first step, when m and v "
         "are zeros).",
    "eps": "eps is added to the square root of the bias-corrected v_hat (not inside the square "
           "root, not to sqrt(v_new)).",
    "state": "The returned state is m_new and v_new, not the bias-corrected values.",
    "unchanged": _UNCHANGED,
    "returns": "(w_new, m_new, v_new), new float64 arrays of w's shape.",
}

adam_step = Exercise(
    name="adam_step",
    visible=_adam_visible,
    hidden=_covering(_adam_hidden, ADAM_CLAUSES),
    oracle=_adam_like_oracle(ADAM, torch.optim.Adam),
    compare=_steps_compare(ADAM),
    call=_steps_call(ADAM),
    forbidden=("torch.optim",),
    clauses=ADAM_CLAUSES,
)


# ---------------------------------------------------------------------------------------------
# radam_step: torch.optim.RAdam
# ---------------------------------------------------------------------------------------------


def rho(t: int, beta2: float) -> float:
    """RAdam's rho_t: the length of the approximated simple moving average at step t."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    return rho_inf - 2.0 * t * beta2**t / (1.0 - beta2**t)


def _radam_case(label: str, w0: Any, grads: Sequence[Any], t0: int = 1, **kwargs: Any) -> Case:
    """A RAdam case whose rho_t stay clear of the thresholds 4 and 5 (so that rounding cannot
    flip a branch, and a wrong threshold of 4 is caught where some rho_t lies in (4, 5))."""
    beta2 = float(kwargs.get("beta2", 0.999))
    for t in range(t0, t0 + len(grads)):
        assert min(abs(rho(t, beta2) - 5.0), abs(rho(t, beta2) - 4.0)) > 1e-3, (t, beta2)
    return _steps_case(RADAM, label, w0, grads, t0=t0, **kwargs)


def _radam_visible() -> list[Case]:
    rng = np.random.default_rng(14)
    return [
        _radam_case("t = 1..8: momentum only while rho_t <= 5",
                    [1.0, -2.0, 0.5], _normal(rng, (3,), 8), lr=0.1),
        _radam_case("beta2 = 0.9, 2-D: rectified from t = 6",
                    rng.normal(size=(2, 2)), _normal(rng, (2, 2), 8), lr=0.05, beta2=0.9),
        _radam_case("tiny gradients: eps on sqrt(v_new)",
                    [1.0, -1.0], [np.array([2e-10, -1e-10]) * (-1) ** k for k in range(8)],
                    lr=0.1, beta2=0.9),
    ]


def _radam_hidden(rng: np.random.Generator) -> list[Case]:
    cases = [
        _radam_case(c.label, c.data["w0"], c.data["grads"], **c.kwargs)
        for c in _common_hidden(RADAM, rng, _ADAM_HYPER, _ADAM_LR)
    ]
    return [
        *cases,
        _radam_case("beta2 = 0.8: rho_t stays <= 5 until t = 7", rng.normal(size=4),
                    _normal(rng, (4,), 10), lr=0.05, beta1=0.7, beta2=0.8),
        _radam_case("beta2 = 0.9, tiny gradients", rng.normal(size=4),
                    _normal(rng, (4,), 10, 1e-10), lr=0.1, beta2=0.9),
        _radam_case("resuming at t = 4 with nonzero m and v", rng.normal(size=4),
                    _normal(rng, (4,), 7), t0=4,
                    state0=[rng.normal(size=4) * 0.3, rng.uniform(0.05, 1.0, 4)], lr=0.02),
        _radam_case("14 steps, beta2 = 0.99", rng.normal(size=3), _normal(rng, (3,), 14),
                    lr=0.01, beta2=0.99, eps=1e-10),
    ]


RADAM_CLAUSES = {
    "threshold": "if rho_t > 5:",
    "rectification": "r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * "
                     "(rho_inf - 2) * rho_t))",
    "early": "else: w_new = w - lr * m_hat",
    "eps": "it is added to sqrt(v_new), the square root of the *uncorrected* second moment, "
           "which is then multiplied by sqrt(1 - beta2**t)",
    "state": "The returned state is m_new and v_new, not the bias-corrected values.",
    "unchanged": _UNCHANGED,
    "returns": "(w_new, m_new, v_new), new float64 arrays of w's shape.",
}

radam_step = Exercise(
    name="radam_step",
    visible=_radam_visible,
    hidden=_covering(_radam_hidden, RADAM_CLAUSES),
    oracle=_adam_like_oracle(RADAM, torch.optim.RAdam),
    compare=_steps_compare(RADAM),
    call=_steps_call(RADAM),
    forbidden=("torch.optim",),
    clauses=RADAM_CLAUSES,
)


# ---------------------------------------------------------------------------------------------
# diffgrad_step: the formula of the docstring (no PyTorch equivalent)
# ---------------------------------------------------------------------------------------------


def _diffgrad_visible() -> list[Case]:
    rng = np.random.default_rng(15)
    return [
        _steps_case(DIFFGRAD, "first step (t = 1, prev_dw = 0)", [1.0, -2.0, 0.5],
                    [[0.3, -0.1, 2.0]], lr=0.1),
        _steps_case(DIFFGRAD, "6 steps in 2-D", rng.normal(size=(2, 3)),
                    _normal(rng, (2, 3), 6), lr=0.01),
        _steps_case(DIFFGRAD, "gradient jumps of 2000: xi without overflow",
                    [1.0, -1.0], [[1e3, -1e3], [-1e3, 1e3], [2.0, 0.5]], lr=0.01),
    ]


def _diffgrad_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        *_common_hidden(DIFFGRAD, rng, _ADAM_HYPER, _ADAM_LR),
        _steps_case(DIFFGRAD, "resuming at t = 4 with nonzero m, v and prev_dw",
                    rng.normal(size=4), _normal(rng, (4,), 7), t0=4,
                    state0=[rng.normal(size=4) * 0.3, rng.uniform(0.05, 1.0, 4)],
                    prev0=rng.normal(size=4), lr=0.02),
        _steps_case(DIFFGRAD, "gradients that barely change (xi close to 1/2)",
                    rng.normal(size=3), [np.array([1.0, -0.5, 2.0]) + 1e-3 * rng.normal(size=3)
                                         for _ in range(10)], lr=0.01),
    ]


def _diffgrad_oracle(case: Case) -> list[dict[str, np.ndarray]]:
    beta1, beta2 = _hyper(case, "beta1", 0.9), _hyper(case, "beta2", 0.999)
    lr, eps = _hyper(case, "lr", 1e-3), _hyper(case, "eps", 1e-8)
    w = case.data["w0"].copy()
    m, v = (s.copy() for s in case.data["state0"])
    prev = case.data["prev0"].copy()
    trajectory = []
    for k, grad in enumerate(case.data["grads"]):
        t = case.data["t0"] + k
        m = beta1 * m + (1.0 - beta1) * grad
        v = beta2 * v + (1.0 - beta2) * grad**2
        xi = 1.0 / (1.0 + np.exp(-np.abs(prev - grad)))
        m_hat = m / (1.0 - beta1**t)
        v_hat = v / (1.0 - beta2**t)
        w = w - lr * xi * m_hat / (np.sqrt(v_hat) + eps)
        trajectory.append(_record(DIFFGRAD, w, [m, v]))
        prev = grad
    return trajectory


DIFFGRAD_CLAUSES = {
    "xi": "xi = 1 / (1 + exp(-abs(prev_dw - dw)))",
    "overflow": "Compute xi as written: exp(-abs(...)) <= 1 never overflows (exp(+abs(...)) does "
                "for huge gradients).",
    "state": "xi only scales the step: the returned m_new, v_new are Adam's (as in adam_step, not "
             "bias-corrected, not multiplied by xi).",
    "eps": "eps is added to sqrt(v_hat), as in adam_step.",
    "unchanged": _UNCHANGED,
    "prev_not_returned": "(the caller keeps track of it: do not return it)",
    "returns": "(w_new, m_new, v_new), new float64 arrays of w's shape.",
}

diffgrad_step = Exercise(
    name="diffgrad_step",
    visible=_diffgrad_visible,
    hidden=_covering(_diffgrad_hidden, DIFFGRAD_CLAUSES),
    oracle=_diffgrad_oracle,
    compare=_steps_compare(DIFFGRAD),
    call=_steps_call(DIFFGRAD),
    forbidden=("torch.optim",),
    clauses=DIFFGRAD_CLAUSES,
)


# ---------------------------------------------------------------------------------------------
# Adam: an optimizer class, 20 steps on a model against torch.optim.Adam
# ---------------------------------------------------------------------------------------------


class _Net(nn.Module):
    """A small tanh MLP with two extra parameters: ``unused`` never receives a gradient, and the
    head ``extra`` is used on even steps only (its ``grad`` is None on odd steps, when the
    optimizer must skip it and not count the step for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
        self.extra = nn.Linear(4, 3, bias=False)
        self.unused = nn.Parameter(torch.ones(2))

    def forward(self, X: torch.Tensor, use_extra: bool = True) -> torch.Tensor:
        out = self.body(X)
        return out + self.extra(X) if use_extra else out


def _optimizer_case(label: str, seed: int, num_steps: int = 20, groups: bool = False,
                    lr_schedule: Sequence[float] | None = None, loss_scale: float = 1.0,
                    closure: bool = False, keep_grads: bool = False,
                    covers: tuple[str, ...] = (), **hyper: Any) -> Case:
    """``keep_grads``: zero the gradients in place (``zero_grad(set_to_none=False)``), so that
    state aliasing ``p.grad`` is zeroed with it, and fail when ``step()`` changes a ``p.grad``."""
    data = {"seed": seed, "num_steps": num_steps, "groups": groups, "lr_schedule": lr_schedule,
            "loss_scale": loss_scale, "closure": closure}
    if keep_grads:
        data["keep_grads"] = True
    return Case(label, (), hyper, data=data, covers=covers)


def _adam_class_visible() -> list[Case]:
    return [
        _optimizer_case("lr 0.01, default betas and eps", 0, lr=0.01),
        _optimizer_case("weight decay 0.1 (added to the gradient)", 1, lr=0.01,
                        weight_decay=0.1),
        _optimizer_case("step(closure) returns its loss, 10 steps", 2, num_steps=10,
                        lr=0.01, closure=True),
    ]


#: The clauses every training run exercises: each step counted per tensor, each tensor's own
#: moments, and ``unused`` (whose grad is always None) skipped.
_EVERY_STEP = ("t", "own_moments", "skip_none")


def _adam_class_hidden(rng: np.random.Generator) -> list[Case]:
    seed = int(rng.integers(1 << 30))
    return [
        _optimizer_case("default hyperparameters", seed, covers=_EVERY_STEP),
        _optimizer_case("betas (0.8, 0.99), eps 1e-6, weight decay 0.05", seed + 1, lr=0.02,
                        betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05,
                        covers=(*_EVERY_STEP, "l2", "eps")),
        _optimizer_case("two parameter groups with their own lr, betas, eps, weight decay",
                        seed + 2, groups=True, lr=0.02, weight_decay=0.01,
                        covers=(*_EVERY_STEP, "l2", "per_group")),
        _optimizer_case("learning rate changed during training", seed + 3, lr=0.01,
                        lr_schedule=[0.01] * 7 + [0.002] * 7 + [0.05] * 6,
                        covers=(*_EVERY_STEP, "per_group")),
        _optimizer_case("tiny gradients (loss x 1e-9): eps outside the square root", seed + 4,
                        lr=0.01, loss_scale=1e-9, covers=(*_EVERY_STEP, "eps")),
        _optimizer_case("huge gradients (loss x 1e6), weight decay 0.1", seed + 5, lr=0.01,
                        loss_scale=1e6, weight_decay=0.1, covers=(*_EVERY_STEP, "l2")),
        _optimizer_case("step(closure) returns the closure's loss", seed + 6, lr=0.01,
                        closure=True, weight_decay=0.01,
                        covers=("l2", "t", "own_moments", "skip_none", "closure")),
        # Gradients zeroed in place: an m or v that is p.grad itself is zeroed with it, and a
        # step() that adds the weight decay to p.grad in place is seen.
        _optimizer_case("zero_grad(set_to_none=False): p.grad must be left as it is", seed + 7,
                        lr=0.01, weight_decay=0.1, keep_grads=True,
                        covers=("l2", "t", "own_moments", "grad_unchanged")),
        _optimizer_case("zero_grad(set_to_none=False), no weight decay", seed + 8, lr=0.01,
                        keep_grads=True, covers=("t", "own_moments", "grad_unchanged")),
    ]


def _build(case: Case) -> tuple[_Net, list[tuple[torch.Tensor, torch.Tensor]]]:
    torch.manual_seed(case.data["seed"])
    model = _Net().double()
    generator = torch.Generator().manual_seed(case.data["seed"])
    batches = [(torch.randn(8, 4, generator=generator, dtype=torch.float64),
                torch.randint(0, 3, (8,), generator=generator))
               for _ in range(case.data["num_steps"])]
    return model, batches


def _param_groups(model: _Net, case: Case) -> Any:
    if not case.data["groups"]:
        return model.parameters()
    return [{"params": model.body[0].parameters(), "lr": case.kwargs["lr"] / 2,
             "weight_decay": 0.0},
            {"params": [model.extra.weight, model.unused], "betas": (0.8, 0.99), "eps": 1e-6},
            {"params": model.body[2].parameters()}]


def _train(make_optimizer: Callable[..., Any], case: Case) -> dict[str, Any]:
    """Train a fresh model; return its parameters after every step and step()'s return values."""
    model, batches = _build(case)
    optimizer = make_optimizer(_param_groups(model, case), **case.kwargs)
    loss_fn = nn.CrossEntropyLoss()
    scale = case.data["loss_scale"]
    keep_grads = case.data.get("keep_grads", False)
    trajectory, returned, losses, grads_changed = [], [], [], []
    for step, (X, y) in enumerate(batches):
        if case.data["lr_schedule"]:
            for group in optimizer.param_groups:
                group["lr"] = case.data["lr_schedule"][step]

        def closure(X=X, y=y, step=step) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=not keep_grads)
            loss = scale * loss_fn(model(X, use_extra=step % 2 == 0), y)
            loss.backward()
            losses.append(loss.detach())
            return loss

        if case.data["closure"]:
            returned.append(optimizer.step(closure))
        else:
            closure()
            grads = [None if p.grad is None else p.grad.detach().clone()
                     for p in model.parameters()]
            returned.append(optimizer.step())
            if keep_grads:
                grads_changed.extend(
                    (step, name) for name, p, g in zip(_PARAM_NAMES, model.parameters(), grads,
                                                       strict=True)
                    if (g is None) != (p.grad is None)
                    or (g is not None and not torch.equal(g, p.grad)))
        trajectory.append([p.detach().numpy().copy() for p in model.parameters()])
    return {"trajectory": trajectory, "returned": returned, "losses": losses,
            "grads_changed": grads_changed}


def _adam_class_call(impl: Any, case: Case) -> dict[str, Any]:
    if not (isinstance(impl, type) and issubclass(impl, torch.optim.Optimizer)):
        raise CheckFailure("Adam must be a class that subclasses torch.optim.Optimizer")
    if issubclass(impl, (torch.optim.Adam, torch.optim.AdamW)):
        raise CheckFailure("Adam must implement the update itself, not subclass "
                           "torch.optim.Adam")
    try:
        return _train(impl, case)
    except NotImplementedError:
        raise  # the unanswered stub: reported as "not attempted"
    except Exception as error:  # any other exception of the student's class is a failure
        raise CheckFailure(f"Adam raised {_exception(error)} (case: {case.label})") from error


#: torch.optim.Adam's results by case (20 training steps each; the cases are deterministic).
_ORACLE_CACHE: dict[str, dict[str, Any]] = {}


def _adam_class_oracle(case: Case) -> dict[str, Any]:
    key = repr((case.label, sorted(case.kwargs.items()), sorted(case.data.items())))
    if key not in _ORACLE_CACHE:
        _ORACLE_CACHE[key] = _train(
            lambda params, **hyper: torch.optim.Adam(params, foreach=False, **hyper), case)
    return _ORACLE_CACHE[key]


#: The names of ``_Net``'s parameters in ``parameters()`` order (not computed from an instance,
#: which would draw from PyTorch's global random generator at import). A module's own
#: parameters come before those of its submodules.
_PARAM_NAMES = ["unused", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias",
                "extra.weight"]


def _adam_class_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    if got["grads_changed"]:
        step, name = got["grads_changed"][0]
        raise CheckFailure(f"step {step + 1}: step() changed {name}.grad; compute g = p.grad + "
                           "weight_decay * p as a new tensor, and keep m and v apart from p.grad")
    for step, (mine, want) in enumerate(zip(got["trajectory"], expected["trajectory"],
                                            strict=True)):
        for name, p_mine, p_want in zip(_PARAM_NAMES, mine, want, strict=True):
            err = np.abs(p_mine - p_want)
            bound = 1e-6 * (1.0 + np.abs(p_want))
            if not np.all(err <= bound):
                raise CheckFailure(
                    f"after step {step + 1} of {case.data['num_steps']}, parameter {name!r} "
                    f"differs from torch.optim.Adam by up to {float(np.max(err)):.3g} "
                    f"(allowed 1e-6 (1 + |p|))")
    if case.data["closure"]:
        for step, (ret, loss) in enumerate(zip(got["returned"], got["losses"], strict=True)):
            if not isinstance(ret, torch.Tensor) or not torch.equal(ret.detach(), loss):
                raise CheckFailure(f"step {step + 1}: step(closure) must return the loss the "
                                   f"closure returned ({float(loss):.6g}), got {ret!r}")


Adam = Exercise(
    name="Adam",
    visible=_adam_class_visible,
    hidden=_adam_class_hidden,
    oracle=_adam_class_oracle,
    compare=_adam_class_compare,
    call=_adam_class_call,
    forbidden=("torch.optim",),
    allowed=("torch.optim.optimizer", "torch.optim.Optimizer"),
    clauses={
        "skip_none": "a tensor whose grad is None is skipped: not updated, its state untouched, "
                     "the step not counted for it",
        "per_group": "for every parameter group, with that group's current lr, betas = (beta1, "
                     "beta2), eps and weight_decay",
        "grad_unchanged": "g = p.grad + weight_decay * p",
        "t": "t = the number of steps p has taken, this one included (1 on p's first step)",
        "own_moments": "(m, v: p's own, zeros before its first step)",
        "l2": "weight_decay (float): default L2 coefficient, added to the gradient as "
              "weight_decay * p.",
        "eps": "eps (float): default eps, added to sqrt(v_hat).",
        "closure": "The closure's loss, or None without a closure.",
    },
)

#: Every exercise of ``adaptive_methods.ipynb``, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for ex in (adagrad_step, rmsprop_step, adam_step, radam_step, diffgrad_step, Adam)
}
