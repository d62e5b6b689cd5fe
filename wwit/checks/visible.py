"""Running an exercise's visible cases in a notebook, with messages meant for a student.

A test cell calls ``checks.<exercise>.run_visible(<function>)``. What the student sees:

* an untouched stub: one line, ``NotAttempted: <exercise> is not attempted yet (...)``;
* a wrong result: one line, what was expected against what came back, on which case;
* an exception in their code: a traceback through their own code only (the frames of the
  course's checking code are left out), and the case it happened on;
* success: one line naming what was checked,
  ``<exercise>: N visible cases passed (<label>; <label>; ...)``, the case labels in order; when
  they do not fit in :data:`PASS_LINE_WIDTH` characters, the line names those that fit and ends
  ``...; and K more)`` (:func:`pass_line`).

The same :class:`VisibleExercise` serves the student kit (cases and expected results read from
the kit's case file) and the instructor's repository (computed from the full checks).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wwit.checks import data
from wwit.checks.core import Case, CheckFailure, call_default

#: Name of the case file inside a kit's assignment package.
CASE_FILE = "cases.json"
#: Format version of the case file.
CASE_FORMAT = 1

#: Longest pass line (characters) before the case labels are cut short.
PASS_LINE_WIDTH = 160

_INTERNAL = (str(Path(__file__).resolve().parent),)


def pass_line(name: str, labels: Sequence[str], kind: str = "visible",
              width: int = PASS_LINE_WIDTH) -> str:
    """The line printed when every case of an exercise passed, naming the cases.

    ``find_critical_points: 3 visible cases passed (a quadratic bowl; max_iter=3 stops early;
    duplicates merged)``. Labels are listed in order while the line stays within ``width``
    characters; the rest are counted (``...; and 2 more)``). The first label is always shown.

    Args:
        name: The exercise's name.
        labels: The labels of the cases that passed, in order.
        kind: ``"visible"`` or ``"hidden"``.
        width: Longest line, in characters, before labels are left out.
    """
    count = len(labels)
    head = f"{name}: {count} {kind} case{'' if count == 1 else 's'} passed"
    if not labels:
        return head
    shown: list[str] = []
    for k, label in enumerate(labels):
        rest = count - k - 1
        tail = f"; and {rest} more)" if rest else ")"
        candidate = f"{head} ({'; '.join([*shown, label])}{tail}"
        if shown and len(candidate) > width:
            break
        shown.append(label)
    left = count - len(shown)
    return f"{head} ({'; '.join(shown)}{f'; and {left} more' if left else ''})"


class NotAttempted(Exception):  # noqa: N818 - it is a state, not an error
    """The exercise still raises the stub's ``NotImplementedError``. Shown as one line."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def _internal(filename: str) -> bool:
    path = str(Path(filename).resolve()) if filename and not filename.startswith("<") else ""
    return path.startswith(_INTERNAL) or "/autograder/" in path


def _student_traceback(exc: BaseException, where: str) -> list[str]:
    """The exception's traceback without the course's own frames, as IPython shows it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _internal(f.filename)]
    lines = ["Traceback through your code (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    lines.append(f"({where})\n")
    return ["".join(lines).rstrip("\n")]


@dataclass
class VisibleExercise:
    """The visible half of an exercise: its cases, their expected results and the comparison.

    Attributes:
        name: The exercise's name (the student's function or class).
        cases: The visible cases.
        expected: ``expected(index)``: the expected result of ``cases[index]``.
        compare: ``compare(got, expected, case)``; raises :class:`CheckFailure` on mismatch.
        call: ``call(impl, case) -> got``; default: ``impl(*args, **kwargs)`` on copies, failing
            when an input array was modified.
    """

    name: str
    cases: Sequence[Case]
    expected: Callable[[int], Any]
    compare: Callable[[Any, Any, Case], None]
    call: Callable[[Callable, Case], Any] | None = None
    _cache: dict[int, Any] = field(default_factory=dict, repr=False)

    def check_case(self, impl: Callable, index: int) -> None:
        """Run ``cases[index]``; raise :class:`CheckFailure`, :class:`NotAttempted` or the
        exception the student's code raised."""
        case = self.cases[index]
        try:
            got = (self.call or (lambda f, c: call_default(self.name, f, c)))(impl, case)
        except NotImplementedError:
            raise NotAttempted(f"{self.name} is not attempted yet (write it in its answer "
                               "cell)") from None
        except CheckFailure as failure:
            raise CheckFailure(f"{self.name}, case {case.label}: {failure}") from None
        except Exception as exc:
            render = _student_traceback(exc, f"raised by {self.name} on case {case.label}")
            exc._render_traceback_ = lambda: render
            raise
        if index not in self._cache:
            self._cache[index] = self.expected(index)
        try:
            self.compare(got, self._cache[index], case)
        except CheckFailure as failure:
            raise CheckFailure(f"{self.name}, case {case.label}: {failure}") from None
        except Exception as exc:  # noqa: BLE001 - a result the comparison could not handle
            raise CheckFailure(f"{self.name}, case {case.label}: could not compare the result "
                               f"({type(exc).__name__}: {exc})") from None

    def run_visible(self, impl: Callable) -> None:
        """Check every visible case (what a test cell runs); print a line when all pass."""
        if not callable(impl):
            raise CheckFailure(f"{self.name} must be a function, got {type(impl).__name__}")
        for index in range(len(self.cases)):
            self.check_case(impl, index)
        print(pass_line(self.name, [case.label for case in self.cases]))


def from_exercise(exercise: Any) -> VisibleExercise:
    """The visible half of an instructor's ``Exercise`` (expected results computed on demand)."""
    cases = exercise.cases()
    return VisibleExercise(exercise.name, cases, lambda i: exercise.expected(cases[i]),
                           exercise.compare, exercise.run_case)


def load_kit(directory: Path, harnesses: Mapping[str, Any]) -> dict[str, VisibleExercise]:
    """The exercises of a kit's assignment package, from its case file and harness modules.

    Args:
        directory: The package's folder, holding :data:`CASE_FILE`.
        harnesses: Harness module name -> module: the comparisons, calls and helpers.
    """
    stored = json.loads((Path(directory) / CASE_FILE).read_text(encoding="utf-8"))
    if stored.get("format") != CASE_FORMAT:
        raise data.DataError(f"case file format {stored.get('format')!r}, expected {CASE_FORMAT}")
    namespaces = {name: vars(module) for name, module in harnesses.items()}
    exercises = {}
    for name, entry in stored["exercises"].items():
        cases = [Case(**data.decode(c, namespaces)) for c in entry["cases"]]
        expected = entry["expected"]
        exercises[name] = VisibleExercise(
            name, cases, lambda i, expected=expected: data.decode(expected[i], namespaces),
            data.decode(entry["compare"], namespaces), data.decode(entry["call"], namespaces))
    return exercises
