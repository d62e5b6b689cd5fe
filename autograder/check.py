"""``check``: a student's self-check of one notebook, with the visible tests only.

Executes the notebook in a fresh kernel (nothing is written back to the file) and reports each
autograded test cell: passed, failed with the first line of the error, or not attempted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder import notebooks
from autograder.execute import Executor, KernelExecutor
from autograder.notebooks import PASSED, TestResult

_MARK = {PASSED: "PASS", notebooks.FAILED: "FAIL", notebooks.ERROR: "ERR ",
         notebooks.NOT_ATTEMPTED: "TODO", notebooks.NOT_RUN: "SKIP"}


@dataclass(frozen=True)
class CheckReport:
    """Results of a self-check.

    Attributes:
        path: The checked notebook.
        results: One result per autograded test cell, in notebook order.
    """

    path: Path
    results: list[TestResult]

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
            detail = f"  {r.message}" if r.message else ""
            lines.append(f"  {_MARK.get(r.status, r.status)}  {r.grade_id:<{width}}  "
                         f"{earned:g}/{r.points:g}  {r.status}{detail}")
        lines.append(f"Visible tests: {self.earned:g}/{self.possible:g} points. "
                     "Hidden tests with other inputs decide the final grade.")
        return "\n".join(lines)


def check(path: Path, timeout: int = 60, executor: Executor | None = None) -> CheckReport:
    """Execute a notebook in a fresh kernel and collect its test-cell results.

    Args:
        path: The notebook to check; it is read, never modified.
        timeout: Seconds allowed per cell.
        executor: How to execute it (default: a local kernel).

    Raises:
        FileNotFoundError: No such notebook.
        nbformat.reader.NotJSONError: The file is not a notebook.
    """
    path = Path(path)
    nb = notebooks.read(path)
    executor = executor or KernelExecutor(timeout=timeout)
    executor.execute(nb, path.resolve().parent)
    return CheckReport(path, notebooks.results(nb))
