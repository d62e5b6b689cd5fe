"""The verdict on each test, decided in the grader's process from data the sandbox sent.

Expected values come from each exercise's oracle, computed here once per class and kept across
runs in the output folder (:class:`Judge`'s ``store``, valid for one key: the engine, the checks'
code and the hidden seed), and :meth:`~autograder.checks.core.Exercise.compare` decides. Student
code never runs here: the values being compared were rebuilt by :mod:`autograder.engine.wire`
from plain data. Messages for hidden cases never include expected values.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.checks.core import Case, CheckFailure, Exercise
from autograder.engine import wire
from autograder.engine.messages import (
    Ended,
    ErrorReport,
    ExerciseResult,
    Fatal,
    Started,
    StepDone,
)
from autograder.engine.rebuild import Rebuilt, TestPlan
from autograder.outputs import results

#: Faults the sandbox reports for a cell or a case: (status, what happened).
FAULTS = {"timeout": (results.TIMEOUT, "ran past the time limit"),
          "out-of-memory": (results.OUT_OF_MEMORY, "ran out of memory")}


def fault_verdict(fault: Any, where: str) -> Verdict | None:
    """The verdict of a reported fault (``timeout``, ``out-of-memory``), else ``None``."""
    if fault not in FAULTS:
        return None
    status, what = FAULTS[fault]
    return Verdict(status, f"{what} {where}")


@dataclass
class Verdict:
    """A test's status and the student-safe message."""

    status: str
    message: str = ""


@dataclass
class NotebookVerdicts:
    """What one notebook's run decided.

    Attributes:
        verdicts: Test grade id -> (status, message).
        notes: Repairs and how the sandbox ended, for the report.
        isolation: The isolation measures the sandbox reported.
    """

    verdicts: dict[str, tuple[str, str]]
    notes: list[str]
    isolation: dict[str, str]


class Judge:
    """Compares a class's returned values with the expected ones; caches cases and oracles.

    Args:
        hidden_seed: Seed of the hidden cases.
        store: A JSON file that keeps the expected values across runs (``None``: this run
            only). It is read only when it was written under the same ``key``; values are
            stored in the sandbox's wire format, decoded strictly, and only those that survive
            the round trip unchanged in type.
        key: What the expected values depend on (engine, checks' code, hidden seed).
    """

    def __init__(self, hidden_seed: int, store: Path | None = None, key: str = "") -> None:
        self.hidden_seed = hidden_seed
        self._cases: dict[tuple[str, str, bool], list[Case]] = {}
        self._expected: dict[tuple[str, str, bool, int], Any] = {}
        self.store, self.key = store, key
        self.stored: dict[str, Any] = self._load()
        self.computed = 0  # oracle calls made by this run

    def _load(self) -> dict[str, Any]:
        if self.store is None:
            return {}
        try:
            data = json.loads(self.store.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if type(data) is not dict or data.get("key") != self.key or \
                type(data.get("values")) is not dict:
            return {}
        return data["values"]

    def save(self) -> None:
        """Write the expected values computed so far to ``store`` (atomically)."""
        if self.store is None or not self.computed:
            return
        temporary = self.store.with_suffix(".tmp")
        temporary.write_text(json.dumps({"key": self.key, "values": self.stored}),
                             encoding="utf-8")
        os.replace(temporary, self.store)

    @staticmethod
    def exercise(module: str, name: str) -> Exercise:
        return getattr(importlib.import_module(module), name)

    def cases(self, module: str, name: str, hidden: bool) -> list[Case]:
        key = (module, name, hidden)
        if key not in self._cases:
            self._cases[key] = self.exercise(module, name).cases(hidden=hidden,
                                                                  seed=self.hidden_seed)
        return self._cases[key]

    def expected(self, module: str, name: str, hidden: bool, index: int) -> Any:
        key = (module, name, hidden, index)
        if key not in self._expected:
            label = f"{module}|{name}|{'hidden' if hidden else 'visible'}|{index}"
            try:
                self._expected[key] = wire.decode(self.stored[label])
            except (KeyError, wire.WireError):
                case = self.cases(module, name, hidden)[index]
                value = self._expected[key] = self.exercise(module, name).expected(case)
                self.computed += 1
                storable, encoded = _storable(value)
                if storable:
                    self.stored[label] = encoded
        return self._expected[key]

    def judge_notebook(self, rebuilt: Rebuilt, outcome: Any) -> NotebookVerdicts:
        """The verdict of every test of one notebook, from the sandbox's messages.

        A test never reached gets the way the sandbox died; after a cell that timed out or ran
        out of memory, a test whose function was never defined gets that fault.
        """
        done = {m.index: m for m in outcome.messages if isinstance(m, StepDone)}
        started = next((m for m in outcome.messages if isinstance(m, Started)), None)
        isolation = dict(started.isolation) if started else {}
        fatal = next((m for m in outcome.messages if isinstance(m, Fatal)), None)
        ended = any(isinstance(m, Ended) for m in outcome.messages)
        death = sandbox_death(outcome, ended, fatal)
        notes = list(rebuilt.notes)
        if death:
            notes.append(death[1])
        verdicts: dict[str, tuple[str, str]] = {}
        fault: tuple[str, str] | None = None  # a timeout or memory fault in an earlier cell
        runtime_tamper: list[str] = []
        for index, step in enumerate(rebuilt.steps):
            record = done.get(index)
            if record is not None and record.tamper:
                runtime_tamper += list(record.tamper)
            if step.kind == "code":
                error = record.error if record else None
                faulted = fault_verdict(error.fault, f"in a cell ({step.origin})") \
                    if error else None
                if faulted is not None:
                    fault = (faulted.status, faulted.message)
                continue
            grade_id = step.test.grade_id
            if grade_id in rebuilt.tampered:
                verdicts[grade_id] = (results.TAMPERED, "; ".join(rebuilt.tampered[grade_id]))
                continue
            if record is None:
                verdicts[grade_id] = death or (results.CRASHED, "the notebook stopped early")
                continue
            if runtime_tamper:
                verdicts[grade_id] = (results.TAMPERED,
                                      "; ".join(dict.fromkeys(runtime_tamper))[:500])
                continue
            verdict = self.judge_test(step.test, record)
            if fault and verdict.status == results.ERROR and "NameError" in verdict.message:
                verdicts[grade_id] = fault
            else:
                verdicts[grade_id] = (verdict.status, verdict.message)
        return NotebookVerdicts(verdicts, notes, isolation)

    def judge_test(self, plan: TestPlan, record: StepDone | None) -> Verdict:
        """The verdict of one test step from the sandbox's record (``None``: never finished)."""
        if record is None:
            return Verdict(results.CRASHED, "the test did not finish")
        if record.error:
            return _from_error(record.error, f"running {plan.grade_id}")
        entries = record.exercises
        if entries is None or len(entries) != len(plan.exercises):
            return Verdict(results.CRASHED, "the test's results were incomplete")
        for (name, function), entry in zip(plan.exercises, entries, strict=True):
            verdict = self._judge_exercise(plan.module, name, function, entry)
            if verdict.status != results.PASSED:
                return verdict
        return Verdict(results.PASSED)

    def _judge_exercise(self, module: str, name: str, function: str,
                        entry: ExerciseResult) -> Verdict:
        if entry.exercise != name:
            return Verdict(results.CRASHED, "the test's results were malformed")
        if entry.missing:
            return Verdict(results.ERROR, f"NameError: {function} is not defined (did its cell "
                                          "run without errors?)")
        records = list(entry.cases)
        exercise = self.exercise(module, name)
        wanted = [(False, i) for i in range(len(self.cases(module, name, False)))] + \
                 [(True, i) for i in range(len(self.cases(module, name, True)))]
        for (hidden, index), record in zip(wanted, records + [None] * len(wanted),
                                           strict=False):
            where = self._where(module, name, hidden, index)
            if record is None:
                return Verdict(results.CRASHED, f"{function} did not finish {where}")
            if record.hidden != hidden or record.index != index:
                return Verdict(results.CRASHED, "the test's results were malformed")
            if record.tamper:
                return Verdict(results.TAMPERED, "; ".join(record.tamper)[:500])
            if record.error:
                return _from_error(record.error, where)
            try:
                got = wire.decode(record.value)
            except wire.WireError as exc:
                return Verdict(results.CRASHED, f"unreadable result {where}: {exc}")
            verdict = self._compare(exercise, module, name, hidden, index, got, where)
            if verdict is not None:
                return verdict
        return Verdict(results.PASSED)

    def _where(self, module: str, name: str, hidden: bool, index: int) -> str:
        label = self.cases(module, name, hidden)[index].label
        return f"on hidden case '{label}'" if hidden else f"on case '{label}'"

    def _compare(self, exercise: Exercise, module: str, name: str, hidden: bool, index: int,
                 got: Any, where: str) -> Verdict | None:
        cheat = _overriding_object(got)
        if cheat is not None:
            return Verdict(results.TAMPERED,
                           f"returned an object of its own class {cheat.type_name} that "
                           f"overrides {', '.join(cheat.overrides)} instead of a real result "
                           f"{where}")
        case = self.cases(module, name, hidden)[index]
        try:
            exercise.compare(got, self.expected(module, name, hidden, index), case)
        except CheckFailure as failure:
            if hidden:
                return Verdict(results.FAILED, f"wrong result {where} (the visible cases passed; "
                               "hidden cases test more inputs, read the docstring again)")
            return Verdict(results.FAILED, f"{name} {where}: {failure}"[:1000])
        except Exception as exc:  # noqa: BLE001 - a result of the wrong type or structure
            kind = type(got).__name__
            return Verdict(results.FAILED, f"{name} {where}: the result has the wrong type or "
                           f"structure ({kind}; {type(exc).__name__})")
        return None


def _storable(value: Any) -> tuple[bool, Any]:
    """Whether ``value`` can be stored, and its wire format: not when decoding it would not give
    back the same types (an object the wire does not carry, an integer too large for it, a
    tensor that requires grad)."""
    try:
        encoded = wire.encode(value)
        again = wire.decode(json.loads(json.dumps(encoded)))
    except (TypeError, ValueError):
        return False, None
    return _types(again) == _types(value), encoded


def _types(value: Any, depth: int = 0) -> Any:
    """The nested types of a value (tensor and array dtypes included), to compare round trips."""
    kind = type(value)
    if depth > 40:
        return kind
    if kind in (list, tuple):
        return kind, [_types(v, depth + 1) for v in value]
    if kind is dict:
        return kind, {k: _types(v, depth + 1) for k, v in value.items()}
    dtype = getattr(value, "dtype", None)
    grad = getattr(value, "requires_grad", None)
    return kind, str(dtype), grad


def sandbox_death(outcome: Any, ended: bool, fatal: Fatal | None) -> tuple[str, str] | None:
    """How the sandbox ended, when it did not finish normally."""
    if outcome.killed == "timeout":
        return results.TIMEOUT, "the notebook ran past its time limit and was stopped"
    if outcome.problem:
        return results.CRASHED, outcome.problem
    if fatal:
        return results.CRASHED, f"the sandbox could not start: {fatal.message}"
    if ended:
        return None
    code = outcome.exitcode
    if code is not None and code < 0:
        name = {-9: "SIGKILL", -11: "SIGSEGV (segmentation fault)", -24: "SIGXCPU",
                -6: "SIGABRT"}.get(code, f"signal {-code}")
        if code == -24:
            return results.TIMEOUT, "the notebook used up its CPU-time limit"
        return results.CRASHED, f"the process was killed by {name}"
    return results.CRASHED, f"the process exited early (exit code {code})"


def _overriding_object(value: Any, depth: int = 0) -> wire.Unsupported | None:
    """The first object of a student-defined class that overrides comparison or numpy hooks."""
    if isinstance(value, wire.Unsupported):
        return value if value.student_class and value.overrides else None
    children = value.values() if isinstance(value, dict) else \
        value if isinstance(value, (list, tuple)) and depth < 40 else ()
    for child in children:
        found = _overriding_object(child, depth + 1)
        if found is not None:
            return found
    return None


def _from_error(error: ErrorReport, where: str) -> Verdict:
    ename, message = error.ename, error.message
    faulted = fault_verdict(error.fault, where)
    if faulted is not None:
        return faulted
    if ename in ("NotImplementedError", "NotAttempted"):
        return Verdict(results.NOT_ATTEMPTED, f"not attempted yet ({where})")
    if ename in ("CheckFailure", "AssertionError"):
        return Verdict(results.FAILED, f"{message} ({where})" if message else where)
    return Verdict(results.ERROR, f"{ename}: {message} ({where})" if message else
                   f"{ename} ({where})")
