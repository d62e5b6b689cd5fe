"""How notebooks are executed outside the grading sandbox: a normal Jupyter kernel.

(Grading a class uses the sandboxed engine instead: :mod:`autograder.grade`.)
"""

from __future__ import annotations

from pathlib import Path

from nbformat import NotebookNode

from wwit.checks.notebook import execute


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
