"""What every exercise's visible check is made of, on the student's side and the grader's.

This module is public: it ships in the student kit. It holds the case record, the failure a
comparison raises, the comparison helpers the checks share, and the default way of calling a
student's function on one case. Nothing here knows a hidden case or computes an answer: the
instructor's :mod:`autograder.checks.core` adds the hidden cases and the oracles on top of it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class CheckFailure(AssertionError):
    """A student's result does not match the specification.

    In a notebook it shows as its message alone (IPython calls ``_render_traceback_``): the
    frames of the course's checking code say nothing to a student.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@dataclass(frozen=True)
class Case:
    """One call of a student's function.

    Attributes:
        label: Short human-readable description, shown in failure messages.
        args: Positional arguments. Arrays are copied before each call.
        kwargs: Keyword arguments.
        data: Extra information for the call and the comparison (tolerances, scales);
            never passed to the student's function.
        covers: The clauses of the exercise's docstring this case exercises (keys of the
            instructor's ``Exercise.clauses``); a case that breaks only one of them fails.
    """

    label: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    covers: tuple[str, ...] = ()


def fresh(value: Any) -> Any:
    """Return an independent copy of an argument so a case can be reused safely."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if callable(value) and not hasattr(value, "parameters"):
        return value
    return copy.deepcopy(value)


def call_default(name: str, impl: Callable, case: Case) -> Any:
    """Call ``impl(*args, **kwargs)`` on fresh copies; fail if it modified an input array."""
    args = tuple(fresh(a) for a in case.args)
    kwargs = {k: fresh(v) for k, v in case.kwargs.items()}
    before = [a.copy() for a in args if isinstance(a, np.ndarray)]
    got = impl(*args, **kwargs)
    after = [a for a in args if isinstance(a, np.ndarray)]
    for old, new in zip(before, after, strict=True):
        if old.shape != new.shape or not np.array_equal(old, new, equal_nan=True):
            raise CheckFailure(
                f"{name} modified its input array in place (case: {case.label}); "
                "work on a copy instead."
            )
    return got


# ---------------------------------------------------------------------------------------------
# Comparisons shared by the assignments.
# ---------------------------------------------------------------------------------------------


def describe(value: Any, limit: int = 6) -> str:
    """Render a value compactly for a failure message."""
    if isinstance(value, np.ndarray):
        flat = np.asarray(value).ravel()
        shown = np.array2string(flat[:limit], precision=6, separator=", ")
        more = f" ... ({flat.size} values)" if flat.size > limit else ""
        return f"array(shape={value.shape}) {shown}{more}"
    return repr(value)


def require_ndarray(got: Any, shape: tuple[int, ...], what: str = "result") -> np.ndarray:
    """Fail unless ``got`` is exactly a floating ``np.ndarray`` (no subclass) of ``shape``."""
    if type(got) is not np.ndarray:
        raise CheckFailure(f"expected the {what} to be a numpy.ndarray, got {type(got).__name__}")
    if got.shape != tuple(shape):
        raise CheckFailure(f"expected the {what} to have shape {tuple(shape)}, got {got.shape}")
    if not np.issubdtype(got.dtype, np.floating):
        raise CheckFailure(f"expected a floating-point {what}, got dtype {got.dtype}")
    return got


def assert_close(got: np.ndarray, expected: np.ndarray, atol: float, rtol: float = 0.0) -> None:
    """Fail unless ``|got - expected| <= atol + rtol * |expected|`` elementwise (no NaN)."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        raise CheckFailure(f"result contains NaN or inf: {describe(got)}")
    err = np.abs(got - expected)
    bound = atol + rtol * np.abs(expected)
    if not np.all(err <= bound):
        worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
        raise CheckFailure(
            f"expected {describe(expected)}, got {describe(got)} "
            f"(largest error {float(err[worst]):.3g} at index {tuple(int(i) for i in worst)}, "
            f"allowed {float(bound[worst]):.3g})"
        )


def require_float64(got: Any, shape: tuple[int, ...], what: str = "result") -> np.ndarray:
    """Fail unless ``got`` is exactly a float64 ``np.ndarray`` (no subclass) of ``shape``."""
    require_ndarray(got, shape, what)
    if got.dtype != np.float64:
        raise CheckFailure(f"expected the {what} to be float64, got dtype {got.dtype}")
    return got


def check_close(got: Any, want: Any, what: str, atol: float, rtol: float) -> None:
    """Fail unless ``got`` is a float64 array of ``want``'s shape with
    ``|got - want| <= atol + rtol * |want|`` elementwise; the message names ``what``."""
    want = np.asarray(want, dtype=np.float64)
    require_float64(got, want.shape, what)
    try:
        assert_close(got, want, atol=atol, rtol=rtol)
    except CheckFailure as failure:
        raise CheckFailure(f"{what}: {failure}") from None


def require_number(value: Any, what: str, finite_hint: str = "") -> float:
    """A real number (Python float or int, numpy scalar, or 0-d array), finite, as a float.

    Args:
        value: What the student returned.
        what: Its name in the message.
        finite_hint: Appended to the message when the number is NaN or infinite (a likely cause).
    """
    if type(value) is np.ndarray:
        if value.shape != ():
            raise CheckFailure(f"expected the {what} to be a number (a Python float), got an "
                               f"array of shape {value.shape}; reduce it to one value")
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise CheckFailure(f"expected the {what} to be a number (a Python float), got "
                           f"{type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise CheckFailure(f"the {what} is {value}: expected a finite number{finite_hint}")
    return value


def unpack(result: Any, names: tuple[str, ...] | list[str], function: str) -> tuple:
    """``result`` as a tuple of ``len(names)`` values, or a failure naming what was expected."""
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise CheckFailure(f"{function} must return a tuple ({', '.join(names)}), got "
                           f"{type(result).__name__}"
                           + (f" of length {len(result)}" if isinstance(result, (tuple, list))
                              else ""))
    return tuple(result)


def compare_trajectory(got: list[Any], expected: list[dict[str, np.ndarray]],
                       keys: tuple[str, ...], shape: tuple[int, ...], *, atol_factor: float,
                       rtol: float, t0: int | None = None, returns: str | None = None,
                       require: Callable[[Any, tuple[int, ...], str], Any] = require_ndarray,
                       first_step: Callable[[tuple, str], None] | None = None) -> None:
    """Compare an optimizer's results, step by step, with the oracle's trajectory.

    Step ``k``'s result is the new ``w`` when ``keys == ("w",)``, else a tuple in the order of
    ``keys``. Each value passes ``require(value, shape, key)`` and, elementwise,
    ``|got - want| <= atol_factor * s + 1e-300 + rtol * |want|``, where ``s`` is the largest
    ``|want|`` of that key over the whole trajectory (so a value that shrinks towards 0 is still
    compared at the trajectory's scale).

    Args:
        got: The student's result after each step (possibly fewer than ``expected``).
        expected: The oracle's ``{key: array}`` after each step.
        keys: The names of the returned values, ``"w"`` first.
        shape: The shape of every value.
        atol_factor: Absolute tolerance relative to the trajectory's scale.
        rtol: Relative tolerance.
        t0: The step count ``t`` of the first step, named in messages when given.
        returns: How the expected tuple is described in messages (default: the keys).
        require: The type check of one value.
        first_step: Called with the first step's values and its description before comparing
            them (to name a classic mistake).
    """
    scale = {key: np.max(np.abs(np.stack([e[key] for e in expected])), axis=0) for key in keys}
    stateful = len(keys) > 1
    for k, (result, want) in enumerate(zip(got, expected, strict=False)):
        where = f"after step {k + 1}" + (f" (t = {t0 + k})" if t0 is not None else "")
        if stateful:
            if not isinstance(result, (tuple, list)) or len(result) != len(keys):
                wanted = returns or "(" + ", ".join(keys) + ")"
                raise CheckFailure(f"{where}: expected a tuple {wanted}, got "
                                   f"{type(result).__name__}"
                                   + (f" of length {len(result)}"
                                      if isinstance(result, (tuple, list)) else ""))
            values = tuple(result)
        else:
            values = (result,)
        if first_step is not None and k == 0:
            first_step(values, where)
        for key, value in zip(keys, values, strict=True):
            try:
                require(value, shape, key)
                assert_close(value, want[key], atol=atol_factor * scale[key] + 1e-300, rtol=rtol)
            except CheckFailure as failure:
                raise CheckFailure(f"{where}, {key}: {failure}") from None
    if len(got) < len(expected):
        raise CheckFailure(f"stopped after {len(got)} of {len(expected)} steps")
