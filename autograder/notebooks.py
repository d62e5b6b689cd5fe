"""Reading and cleaning notebooks, and reading test results out of executed ones."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode

# Reading test results is the self-check's job; it ships to students in the kit.
from wwit.checks.notebook import (  # noqa: F401
    ERROR,
    FAILED,
    NOT_ATTEMPTED,
    NOT_RUN,
    PASSED,
    TestResult,
    cell_result,
    error_line,
    is_autograded_test,
    is_written_answer,
    nbgrader_meta,
    read,
    results,
    test_cells,
    written_answers,
)


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
