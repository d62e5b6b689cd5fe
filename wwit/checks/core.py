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
