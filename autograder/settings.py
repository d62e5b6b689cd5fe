"""Every setting of the grading engine, with its default and what it is for.

Each field is also a command-line option of ``python -m autograder grade`` (``--cell-timeout``,
``--memory-mb``...). ``hidden_seed`` changes the hidden cases; see ``autograder.checks.core``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

from autograder.checks.core import HIDDEN_SEED


@dataclass
class GradeSettings:
    """Limits and options of one grading run.

    Attributes:
        jobs: Notebooks graded at the same time (default: the number of CPU cores).
        cell_timeout: Wall-clock seconds allowed per cell and per test.
        submission_timeout: Wall-clock seconds allowed per notebook in all.
        cpu_seconds: CPU seconds allowed per notebook (``RLIMIT_CPU``).
        memory_mb: Address-space cap of the sandboxed process in MiB (``RLIMIT_AS``); the
            preloaded numpy/torch/IPython already take about 1 GiB of it.
        max_processes: Processes and threads the sandbox user may have (``RLIMIT_NPROC``;
            only enforced when the grader runs as root and can switch to an unprivileged user).
        max_output_kb: Captured output per cell, in KiB; the rest is dropped.
        max_file_mb: Largest file the sandbox may write (``RLIMIT_FSIZE``), in MiB.
        sandbox_uid: First user id of the unprivileged users that run submissions (one per
            worker slot: ``sandbox_uid + slot``), when the grader runs as root.
        hidden_seed: Seed of the hidden cases.
        feedback: Write per-student feedback HTML.
        plots: Write the grade-distribution and pass-rate plots and ``summary.html``.
    """

    jobs: int = os.cpu_count() or 1
    cell_timeout: float = 60.0
    submission_timeout: float = 600.0
    cpu_seconds: int = 600
    memory_mb: int = 3072
    max_processes: int = 64
    max_output_kb: int = 256
    max_file_mb: int = 64
    sandbox_uid: int = 61000
    hidden_seed: int = HIDDEN_SEED
    feedback: bool = True
    plots: bool = True

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def grading_key(self) -> dict[str, object]:
        """The settings that can change a grade (part of each result's fingerprint)."""
        keep = ("cell_timeout", "submission_timeout", "cpu_seconds", "memory_mb",
                "max_processes", "max_file_mb", "hidden_seed")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in keep}
