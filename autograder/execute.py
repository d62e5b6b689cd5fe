"""How a student's own ``check`` executes a notebook: a normal Jupyter kernel, no sandbox.

(Grading a class uses the sandboxed engine instead: :mod:`autograder.grade`.)
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from pathlib import Path

from nbclient import NotebookClient
from nbformat import NotebookNode


class Executor(ABC):
    """Executes every cell of a notebook in place, recording outputs.

    Errors raised by cells are recorded as error outputs and execution continues. A kernel that
    dies raises an exception (``nbclient.exceptions.DeadKernelError``).
    """

    #: Short name shown in reports.
    name = "executor"

    def __init__(self, timeout: int = 60) -> None:
        self.timeout = timeout

    @abstractmethod
    def execute(self, nb: NotebookNode, cwd: Path) -> NotebookNode:
        """Execute ``nb`` with working directory ``cwd`` and return it."""


class KernelExecutor(Executor):
    """A fresh local Jupyter kernel per notebook (nbclient), ``timeout`` seconds per cell."""

    name = "kernel"

    def execute(self, nb: NotebookNode, cwd: Path) -> NotebookNode:
        kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
        client = NotebookClient(
            nb,
            timeout=self.timeout,
            kernel_name=kernel_name,
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"the cell ran longer than {self.timeout} s",
                "traceback": [],
            },
            record_timing=False,
            extra_arguments=["--HistoryManager.hist_file=:memory:"],
            resources={"metadata": {"path": str(cwd)}},
        )
        # The kernel's own stderr (start-up warnings) is noise on the grader's console; what a
        # cell writes to stderr still reaches the notebook through the kernel protocol.
        client.execute(stderr=subprocess.DEVNULL)
        return nb
