"""A student's self-check of one notebook: ``python -m wwit.checks NOTEBOOK`` (or ``make check``).

Runs the notebook's code cells up to its last test cell in a fresh Python process (an IPython
shell, no Jupyter kernel: :mod:`.runner`; nothing is written back to the file) and reports each
autograded test cell: passed, failed with the first line of its message, not attempted (an
untouched stub), or error. A student's notebook has only the visible tests; the grader's hidden
tests decide the grade. This module ships in the student kit; the instructor's ``python -m
autograder check`` is the same code (on a source notebook, its hidden tests run too).

:func:`execute` runs a whole notebook in a real Jupyter kernel instead (nbclient), with its
outputs: lectures and notebooks that need a kernel use it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wwit.checks.status import Status

if TYPE_CHECKING:  # nbformat is imported when needed: its schema validators take a second
    from nbformat import NotebookNode

#: Statuses of one test cell in a self-check (the course's one vocabulary, :mod:`.status`).
PASSED, FAILED, ERROR = Status.PASSED, Status.FAILED, Status.ERROR
NOT_ATTEMPTED, NOT_RUN = Status.NOT_ATTEMPTED, Status.NOT_RUN
_MARK = {PASSED: "PASS", FAILED: "FAIL", ERROR: "ERR ", NOT_ATTEMPTED: "TODO", NOT_RUN: "SKIP"}

#: Exception names that a test cell raises for each status (anything else is an error).
NOT_ATTEMPTED_ERRORS = ("NotAttempted", "NotImplementedError")
FAILED_ERRORS = ("CheckFailure", "AssertionError")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class TestResult:
    """The outcome of one autograded test cell.

    Attributes:
        grade_id: The cell's nbgrader grade id (``test_<exercise>...``).
        points: Points the cell is worth.
        status: ``passed``, ``failed`` (wrong answer), ``not attempted`` (an untouched stub),
            ``error`` (any other exception) or ``not run`` (the cell was never executed, for
            example because the kernel died before it).
        message: First line of the error, empty when passed.
    """

    __test__ = False  # not a pytest test class

    grade_id: str
    points: float
    status: Status
    message: str = ""


def read(path: Path) -> NotebookNode:
    """Read a notebook (nbformat 4) from ``path``, validated by nbformat."""
    import nbformat

    return nbformat.read(str(path), as_version=4)


class _Node(dict):
    """A dict whose keys are also attributes, as nbformat's ``NotebookNode``."""

    def __getattr__(self, key: str):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value) -> None:
        self[key] = value


def _node(value):
    if isinstance(value, dict):
        return _Node((k, _node(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_node(v) for v in value]
    return value


def read_quickly(path: Path) -> NotebookNode:
    """Read a notebook for a self-check: plain JSON, without nbformat's schema validation.

    A notebook in nbformat 4 is read as JSON, its cells' sources joined into strings, as
    nbformat does; any other version goes through :func:`read` (which converts it).

    Raises:
        ValueError: The file is not JSON, or not a notebook.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a notebook (not JSON: {exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise ValueError("not a notebook (no list of cells)")
    if raw.get("nbformat") != 4:
        return read(path)
    nb = _node(raw)
    for cell in nb.cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise ValueError("not a notebook (a cell without a cell_type)")
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        cell.setdefault("source", "")
        cell.setdefault("metadata", _Node())
    return nb


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata, or an empty dict."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_written_answer(cell: NotebookNode) -> bool:
    """True for a manually graded written answer: a markdown answer cell with points."""
    meta = nbgrader_meta(cell)
    return (cell.get("cell_type") == "markdown" and bool(meta.get("grade"))
            and bool(meta.get("solution")))


def written_answers(nb: NotebookNode) -> list[tuple[str, float]]:
    """``(grade_id, points)`` of the notebook's written answers, in order."""
    return [(nbgrader_meta(c).get("grade_id", "?"), float(nbgrader_meta(c).get("points", 0)))
            for c in nb.cells if is_written_answer(c)]


def is_autograded_test(cell: NotebookNode) -> bool:
    """True for an autograded test cell: a graded code cell that is not a solution cell."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def test_cells(nb: NotebookNode) -> list[NotebookNode]:
    """The autograded test cells of a notebook, in order."""
    return [cell for cell in nb.cells if is_autograded_test(cell)]


def error_line(output: NotebookNode) -> str:
    """``Name: first line of the message`` of an error output, ANSI colours removed."""
    value = _ANSI.sub("", str(output.get("evalue", ""))).strip().splitlines()
    first = value[0] if value else ""
    name = _ANSI.sub("", str(output.get("ename", "Error")))
    return f"{name}: {first}" if first else name


def cell_result(cell: NotebookNode) -> TestResult:
    """Classify one executed autograded test cell from its outputs."""
    meta = nbgrader_meta(cell)
    grade_id, points = meta.get("grade_id", "?"), float(meta.get("points", 0))
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if cell.get("execution_count") is None and not errors:
        return TestResult(grade_id, points, NOT_RUN, "the cell was not executed")
    if not errors:
        return TestResult(grade_id, points, PASSED)
    error = errors[0]
    ename = _ANSI.sub("", str(error.get("ename", "")))
    if ename in NOT_ATTEMPTED_ERRORS:
        status = NOT_ATTEMPTED
    elif ename in FAILED_ERRORS:
        status = FAILED
    else:
        status = ERROR
    return TestResult(grade_id, points, status, error_line(error))


def results(nb: NotebookNode) -> list[TestResult]:
    """Results of every autograded test cell of an executed notebook."""
    return [cell_result(cell) for cell in test_cells(nb)]


class BudgetExceeded(TimeoutError):
    """A notebook did not finish within its whole-notebook time budget (its kernel is killed)."""


def execute(nb: NotebookNode, cwd: Path, timeout: int = 60,
            budget: float | None = None) -> NotebookNode:
    """Execute every cell of ``nb`` in place in a fresh local kernel (nbclient).

    Errors raised by cells are recorded as error outputs and execution continues; a cell that
    runs longer than ``timeout`` seconds is interrupted and recorded as ``CellTimeoutError``. A
    kernel that dies raises ``nbclient.exceptions.DeadKernelError``.

    Args:
        nb: The notebook, executed in place.
        cwd: The kernel's working directory.
        timeout: Seconds one cell may run (without ``budget``).
        budget: Seconds the whole notebook may take, kernel start included. When given, it
            replaces ``timeout``: each cell may run for what is left of the budget, and a cell
            still running when the budget is spent stops everything with
            :class:`BudgetExceeded` (the kernel is shut down) instead of being recorded.

    Returns:
        NotebookNode: ``nb``, with its outputs.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
    options: dict = {
        "timeout": timeout,
        "interrupt_on_timeout": True,
        "error_on_timeout": {
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran longer than {timeout} s",
            "traceback": [],
        },
    }
    if budget is not None:
        deadline = time.monotonic() + budget
        options = {"timeout_func": lambda _cell: max(1, int(deadline - time.monotonic()) + 1),
                   "interrupt_on_timeout": False}
    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        allow_errors=True,
        record_timing=False,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        resources={"metadata": {"path": str(cwd)}},
        **options,
    )
    # The kernel's own stderr (start-up warnings) is noise on the console; what a cell writes
    # to stderr still reaches the notebook through the kernel protocol.
    try:
        client.execute(stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        started = [i for i, c in enumerate(nb.cells)
                   if c.cell_type == "code" and c.get("execution_count") is not None]
        running = started[-1] if started else "?"
        raise BudgetExceeded(f"the notebook did not finish within its budget of {budget:g} s "
                             f"(cell {running} was still running; the kernel was stopped)"
                             ) from None
    return nb


@dataclass(frozen=True)
class CheckReport:
    """Results of a self-check.

    Attributes:
        path: The checked notebook.
        results: One result per autograded test cell, in notebook order.
        written: ``(grade_id, points)`` of the written answers, which are not checked here.
        seconds: How long the run took (process start included), or None when not measured.
        skipped: Code cells after the last test cell, which the check does not run.
    """

    path: Path
    results: list[TestResult]
    written: list[tuple[str, float]] = field(default_factory=list)
    seconds: float | None = None
    skipped: int = 0

    @property
    def earned(self) -> float:
        return sum(r.points for r in self.results if r.status == PASSED)

    @property
    def possible(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def all_passed(self) -> bool:
        return all(r.status == PASSED for r in self.results)

    def format(self) -> str:
        """One line per test cell, then the total."""
        width = max((len(r.grade_id) for r in self.results), default=10)
        lines = [f"Checking {self.path} (visible tests only)"]
        for r in self.results:
            earned = r.points if r.status == PASSED else 0
            detail = f"  {r.message}" if r.message and r.status != NOT_ATTEMPTED else ""
            lines.append(f"  {_MARK.get(r.status, r.status)}  {r.grade_id:<{width}}  "
                         f"{earned:g}/{r.points:g}  {r.status}{detail}")
        lines.append(f"Visible tests: {self.earned:g}/{self.possible:g} points. "
                     "Hidden tests with other inputs decide the final grade.")
        if self.written:
            answers = ", ".join(f"{grade_id} ({points:g} points)" for grade_id, points in
                                self.written)
            lines.append(f"Written answers, graded by your instructor (not checked here): "
                         f"{answers}.")
        if self.seconds is not None:
            lines.append(f"Ran in {self.seconds:.1f} s, up to the last test cell"
                         + (f" ({self.skipped} code cell(s) after it not run: run them in "
                            "JupyterLab)" if self.skipped else "") + ".")
        return "\n".join(lines)


def up_to_last_test(nb: NotebookNode) -> int:
    """Drop the cells after the notebook's last autograded test cell, in place: they cannot
    change a test's result. Returns how many code cells were dropped."""
    tests = [i for i, cell in enumerate(nb.cells) if is_autograded_test(cell)]
    if not tests:
        return 0
    dropped = nb.cells[tests[-1] + 1:]
    nb.cells = nb.cells[:tests[-1] + 1]
    return sum(cell.cell_type == "code" for cell in dropped)


#: The exception name reported for the cell during which the notebook's process stopped.
STOPPED_ERROR = "ProcessStopped"


def check(path: Path, timeout: int = 60, warm: bool | None = None) -> CheckReport:
    """Run a notebook up to its last test cell in a fresh Python process, and collect its
    test-cell results.

    Args:
        path: The notebook to check; it is read, never modified.
        timeout: Seconds allowed per cell.
        warm: Use a warm process (:mod:`.warm`: a copy of a process that has the libraries
            loaded already) and start one for the next check when none runs; None: when
            :func:`wwit.checks.warm.wanted` says so (in a terminal, on Linux).

    Raises:
        FileNotFoundError: No such notebook.
        ValueError: The file is not a notebook.
        wwit.checks.runner.RunnerError: The process that runs the cells could not start.
    """
    from wwit.checks import warm as warm_process
    from wwit.checks.runner import Child, RunnerError

    path = Path(path)
    start = time.monotonic()
    if warm is None:
        warm = warm_process.wanted()
    child = warm_process.connect() if warm else None
    start_warm = warm and child is None
    if child is None:
        child = Child.start()  # it starts up while the notebook is read
    outcome = None
    try:
        nb = read_quickly(path)
        written = written_answers(nb)
        skipped = up_to_last_test(nb)
        cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        cwd = str(path.resolve().parent)
        try:
            outcome = child.run(cells, cwd, timeout)
        except RunnerError:
            if child.proc is not None:
                raise
            child.stop()  # a warm process that failed before any cell ran: run it cold
            child = Child.start()
            outcome = child.run(cells, cwd, timeout)
    finally:
        child.stop()
        if start_warm and outcome is not None:
            warm_process.start()  # for the next check; it loads while this report is read
    where = "before the first cell"
    if outcome.stopped_at is not None:
        first = next((line.strip() for line in nb.cells[outcome.stopped_at].source.splitlines()
                      if line.strip()), "")
        where = f"in the cell that starts `{first[:40]}`"
        if outcome.stopped_at not in outcome.errors:
            outcome.errors[outcome.stopped_at] = (
                STOPPED_ERROR, f"the Python process running the notebook stopped in this cell: "
                               f"{outcome.stopped}")
            outcome.ran.append(outcome.stopped_at)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        if index in outcome.ran:
            cell.execution_count = outcome.ran.index(index) + 1
        if index in outcome.errors:
            ename, evalue = outcome.errors[index]
            cell.outputs = [_Node(output_type="error", ename=ename, evalue=evalue, traceback=[])]
    found = results(nb)
    if outcome.stopped:
        found = [TestResult(r.grade_id, r.points, r.status,
                            f"not run: the Python process running the notebook stopped {where}"
                            f" ({outcome.stopped})") if r.status == NOT_RUN else r
                 for r in found]
    return CheckReport(path, found, written, time.monotonic() - start, skipped)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: exit 0 when every visible test passes, 1 when not, 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m wwit.checks",
        description="Run a notebook's visible tests, up to its last test cell, in a fresh "
                    "Python process (the notebook is not modified).")
    parser.add_argument("notebook", nargs="?")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    parser.add_argument("--cold", action="store_true",
                        help="run in a fresh Python process; do not use or start a warm one")
    parser.add_argument("--stop-warm", action="store_true",
                        help="stop the warm processes that keep the libraries loaded between "
                             "checks, and exit")
    args = parser.parse_args(argv)
    if args.stop_warm:
        from wwit.checks.warm import stop_all

        print(f"stopped {stop_all()} warm process(es)")
        return 0
    if args.notebook is None:
        parser.error("the following arguments are required: notebook")
    path = Path(args.notebook)
    if not path.is_file():
        print(f"error: no notebook at {path}", file=sys.stderr)
        return 2
    try:
        report = check(path, timeout=args.timeout, warm=False if args.cold else None)
    except Exception as exc:  # noqa: BLE001 - report any failure to open or run it plainly
        print(f"error: could not run {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(report.format())
    return 0 if report.all_passed else 1
