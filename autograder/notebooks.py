"""Reading and cleaning notebooks, and reading test results out of executed ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

#: Statuses of one autograded test cell.
PASSED, FAILED, ERROR, NOT_ATTEMPTED = "passed", "failed", "error", "not attempted"
NOT_RUN = "not run"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class TestResult:
    """The outcome of one autograded test cell.

    Attributes:
        grade_id: The cell's nbgrader grade id (``test_<exercise>...``).
        points: Points the cell is worth.
        status: ``passed``, ``failed`` (wrong answer), ``not attempted`` (the stub's
            ``NotImplementedError``), ``error`` (any other exception) or ``not run`` (the cell
            was never executed, for example because the kernel died before it).
        message: First line of the error, empty when passed.
    """

    grade_id: str
    points: float
    status: str
    message: str = ""


def read(path: Path) -> NotebookNode:
    """Read a notebook (nbformat 4) from ``path``."""
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata, or an empty dict."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_autograded_test(cell: NotebookNode) -> bool:
    """True for an autograded test cell: a graded code cell that is not a solution cell."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def test_cells(nb: NotebookNode) -> list[NotebookNode]:
    """The autograded test cells of a notebook, in order."""
    return [cell for cell in nb.cells if is_autograded_test(cell)]


def max_points(nb: NotebookNode) -> float:
    """Total points of the notebook's autograded test cells."""
    return float(sum(nbgrader_meta(c).get("points", 0) for c in test_cells(nb)))


def clean(nb: NotebookNode) -> NotebookNode:
    """Remove outputs and execution counts in place (how notebooks are committed)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.get("metadata", {}).pop("execution", None)
    return nb


def is_clean(nb: NotebookNode) -> bool:
    """True when no code cell has outputs or an execution count."""
    return all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in nb.cells
        if cell.cell_type == "code"
    )


def write(nb: NotebookNode, path: Path) -> None:
    """Write a notebook with a trailing newline, as Jupyter does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


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
    if ename == "NotImplementedError":
        status = NOT_ATTEMPTED
    elif ename in ("AssertionError", "CheckFailure"):
        status = FAILED
    else:
        status = ERROR
    return TestResult(grade_id, points, status, error_line(error))


def results(nb: NotebookNode) -> list[TestResult]:
    """Results of every autograded test cell of an executed notebook."""
    return [cell_result(cell) for cell in test_cells(nb)]


def without_solution_markers(source: str) -> str:
    """A solution cell's source with the ``### BEGIN/END SOLUTION`` lines removed."""
    return "\n".join(
        line for line in source.splitlines()
        if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    )


def answer_cells(nb: NotebookNode) -> dict[str, NotebookNode]:
    """Solution (answer) code cells by grade id."""
    return {
        nbgrader_meta(cell)["grade_id"]: cell
        for cell in nb.cells
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution")
    }
