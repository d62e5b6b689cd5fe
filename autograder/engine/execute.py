"""How notebooks are executed outside the grading sandbox: a normal Jupyter kernel.

(Grading a class uses the sandboxed engine instead: :mod:`autograder.grade`.)
"""

from __future__ import annotations

from pathlib import Path

from nbformat import NotebookNode

from wwit.checks.notebook import execute


class KernelExecutor:
    """A fresh local Jupyter kernel per notebook (nbclient), ``timeout`` seconds per cell."""

    name = "kernel"

    def __init__(self, timeout: int = 60) -> None:
        self.timeout = timeout

    def execute(self, nb: NotebookNode, cwd: Path) -> NotebookNode:
        """Execute ``nb`` in place with working directory ``cwd`` and return it."""
        return execute(nb, cwd, timeout=self.timeout)
