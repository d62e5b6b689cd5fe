"""How notebooks are executed outside the grading sandbox: a normal Jupyter kernel.

(Grading a class uses the sandboxed engine instead: :mod:`autograder.grade`.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from wwit.checks.notebook import BudgetExceeded, execute, read

#: Seconds a lecture may take on the reference machine (2 CPU cores), kernel start included.
#: The course's standard is at most 120 s (aim for 60). A hang stops the lecture at this budget
#: instead of eating CI's time.
LECTURE_BUDGET_S = 120


class KernelExecutor:
    """A fresh local Jupyter kernel per notebook (nbclient).

    Attributes:
        timeout: Seconds one cell may run; a slower cell is interrupted and recorded as an error.
        budget: When set, seconds the whole notebook may take instead: a notebook still running
            then raises :class:`~wwit.checks.notebook.BudgetExceeded` and its kernel is stopped.
    """

    name = "kernel"

    def __init__(self, timeout: int = 60, budget: float | None = None) -> None:
        self.timeout = timeout
        self.budget = budget

    def execute(self, nb: NotebookNode, cwd: Path) -> NotebookNode:
        """Execute ``nb`` in place with working directory ``cwd`` and return it."""
        return execute(nb, cwd, timeout=self.timeout, budget=self.budget)


@dataclass(frozen=True)
class LectureRun:
    """One execution of a lecture.

    Attributes:
        seconds: Wall time, kernel start included.
        problem: ``""`` when every cell ran without an error; otherwise the budget exceeded or
            the cells that raised (``cell N: ErrorName``).
        nb: The executed notebook, with its outputs and widget state.
    """

    seconds: float
    problem: str
    nb: NotebookNode


def run_lecture(path: Path, budget: float = LECTURE_BUDGET_S) -> LectureRun:
    """Execute the lecture at ``path`` in a fresh kernel within ``budget`` seconds."""
    nb = read(path)
    start = time.perf_counter()
    try:
        KernelExecutor(budget=budget).execute(nb, path.parent)
    except BudgetExceeded as exceeded:
        return LectureRun(time.perf_counter() - start, str(exceeded), nb)
    errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(nb.cells)
              if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    return LectureRun(time.perf_counter() - start, "; ".join(errors), nb)
