"""What a sandbox tells the grader: typed messages, one encoder and one strict decoder.

The sandbox builds these dataclasses and sends :func:`to_data` of each (JSON through
:mod:`.wire`, never pickle). The pool decodes every message with :func:`from_data`, which trusts
nothing: the student's code runs in the sandbox and could write to the pipe, so a field of the
wrong type is a :class:`MessageError` (the notebook then ends as ``crashed``, with the protocol
problem in the report). Returned values stay in :mod:`.wire`'s tagged form until the verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


class MessageError(ValueError):
    """A message from the sandbox does not have the shape of any known message."""


@dataclass(frozen=True)
class ErrorReport:
    """An exception raised in the sandbox (by the student's code, or a fault).

    Attributes:
        ename: The exception's class name.
        message: The first line of its message.
        fault: ``timeout`` or ``out-of-memory`` when the limits ended it, else ``None``.
    """

    ename: str
    message: str = ""
    fault: str | None = None


@dataclass(frozen=True)
class CaseResult:
    """The student's function on one case: a returned value (wire data) or an error."""

    hidden: bool
    index: int
    value: Any = None
    error: ErrorReport | None = None
    tamper: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExerciseResult:
    """One exercise of a test step: its cases, or the missing function's name."""

    exercise: str
    missing: str | None = None
    cases: tuple[CaseResult, ...] = ()


@dataclass(frozen=True)
class Started:
    """The sandbox is isolated and ready; the measures in effect."""

    isolation: dict[str, str]


@dataclass(frozen=True)
class StepStarted:
    """A step (``index``) or one of its cases (``None``) starts: its time limit restarts."""

    index: int | None = None


@dataclass(frozen=True)
class StepDone:
    """A step ended: a cell's output and error, or a test step's exercises."""

    index: int
    output: str = ""
    error: ErrorReport | None = None
    tamper: tuple[str, ...] = ()
    exercises: tuple[ExerciseResult, ...] | None = None


@dataclass(frozen=True)
class Fatal:
    """The sandbox could not start, or failed itself."""

    message: str


@dataclass(frozen=True)
class Ended:
    """Every step ran."""


Message = Started | StepStarted | StepDone | Fatal | Ended
_EVENTS: dict[str, type] = {"start": Started, "step": StepStarted, "done": StepDone,
                            "fatal": Fatal, "end": Ended}
_NAMES = {cls: name for name, cls in _EVENTS.items()}


def to_data(message: Message) -> dict[str, Any]:
    """Plain data of a message (runs in the sandbox)."""
    return {"event": _NAMES[type(message)], **asdict(message)}


def _text(value: Any, what: str, limit: int) -> str:
    if type(value) is not str:
        raise MessageError(f"{what} is not text")
    return value[:limit]


def _texts(value: Any, what: str) -> tuple[str, ...]:
    if type(value) is not list:
        raise MessageError(f"{what} is not a list")
    return tuple(_text(v, what, 300) for v in value[:50])


def _index(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise MessageError(f"{what} is not an index")
    return value


def _error(value: Any) -> ErrorReport | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise MessageError("an error report is not a record")
    fault = value.get("fault")
    if fault not in (None, "timeout", "out-of-memory"):
        raise MessageError(f"unknown fault {fault!r}")
    return ErrorReport(_text(value.get("ename"), "ename", 100),
                       _text(value.get("message", ""), "message", 500), fault)


def _case(value: Any) -> CaseResult:
    if type(value) is not dict or type(value.get("hidden")) is not bool:
        raise MessageError("a case result is malformed")
    return CaseResult(value["hidden"], _index(value.get("index"), "case index"),
                      value.get("value"), _error(value.get("error")),
                      _texts(value.get("tamper", []), "tamper"))


def _exercise(value: Any) -> ExerciseResult:
    if type(value) is not dict or type(value.get("cases", [])) is not list:
        raise MessageError("an exercise result is malformed")
    missing = value.get("missing")
    return ExerciseResult(_text(value.get("exercise"), "exercise", 200),
                          None if missing is None else _text(missing, "missing", 200),
                          tuple(_case(c) for c in value.get("cases", [])))


def from_data(obj: Any) -> Message:
    """Rebuild a message from plain data (runs in the grader, trusts nothing).

    Raises:
        MessageError: Not a known message, or a field of the wrong type.
    """
    if type(obj) is not dict or obj.get("event") not in _EVENTS:
        raise MessageError("not a message")
    kind = _EVENTS[obj["event"]]
    known = {f.name for f in fields(kind)} | {"event"}
    if set(obj) - known:
        raise MessageError(f"unknown fields {sorted(set(obj) - known)}")
    if kind is Started:
        isolation = obj.get("isolation")
        if type(isolation) is not dict:
            raise MessageError("isolation is not a record")
        return Started({str(k)[:100]: _text(v, "isolation", 300) for k, v in isolation.items()})
    if kind is StepStarted:
        index = obj.get("index")
        return StepStarted(None if index is None else _index(index, "step index"))
    if kind is StepDone:
        exercises = obj.get("exercises")
        if exercises is not None and type(exercises) is not list:
            raise MessageError("exercises is not a list")
        return StepDone(_index(obj.get("index"), "step index"),
                        _text(obj.get("output", ""), "output", 2**24),
                        _error(obj.get("error")), _texts(obj.get("tamper", []), "tamper"),
                        None if exercises is None else tuple(_exercise(e) for e in exercises))
    if kind is Fatal:
        return Fatal(_text(obj.get("message"), "message", 2000))
    return Ended()
