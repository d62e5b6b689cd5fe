"""How notebooks are executed: one small interface, so the grading engine can be swapped.

``check`` calls an :class:`Executor` directly; ``grade`` plugs :class:`EngineExecute` into
nbgrader's autograde pipeline in place of nbgrader's own ``Execute`` preprocessor, and it
delegates to the configured :class:`Executor`.
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from pathlib import Path

from nbclient import NotebookClient
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer, Type


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


class EngineExecute(NbGraderPreprocessor):
    """nbgrader preprocessor that executes the notebook with the configured :class:`Executor`."""

    executor_class = Type(
        KernelExecutor, klass=Executor, help="The Executor class that runs submissions."
    ).tag(config=True)
    timeout = Integer(60, help="Seconds allowed per cell before it is interrupted.").tag(
        config=True
    )

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        cwd = Path(resources.get("metadata", {}).get("path") or ".")
        executor = self.executor_class(timeout=self.timeout)
        return executor.execute(nb, cwd), resources
