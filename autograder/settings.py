"""Every setting of the grading engine, with its default, its bounds and what it is for.

Each field is also a command-line option of ``python -m autograder grade`` (``--cell-timeout``,
``--memory-mb``...), generated from the field's metadata (:func:`options`), and a row of the
README's settings table (a test checks it). ``hidden_seed`` changes the hidden cases; see
``autograder.checks.core``. Settings are validated when they are made: a bad value is a clear
error before any notebook runs.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from autograder.checks.core import HIDDEN_SEED

#: A Dask scheduler address (``tcp://``, ``tls://``, ``inproc://`` or ``ucx://``), or empty.
_SCHEDULER = re.compile(r"^$|^(tcp|tls|inproc|ucx)://[A-Za-z0-9_.:\[\]/-]+$")


class SettingsError(ValueError):
    """A setting has the wrong type or is out of its bounds."""


def available_cpus() -> int:
    """CPU cores this process may use now (its affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _setting(default: Any = None, what: str = "", low: float | None = None,
             high: float | None = None, option: bool = True, factory=None) -> Any:
    meta = {"help": what, "low": low, "high": high, "option": option}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class GradeSettings:
    """Limits and options of one grading run.

    Attributes:
        jobs: Notebooks graded at the same time (default: the CPU cores available when the
            settings are made).
        cell_timeout: Wall-clock seconds allowed per cell and per test.
        submission_timeout: Wall-clock seconds allowed per notebook in all.
        cpu_seconds: CPU seconds allowed per notebook (``RLIMIT_CPU``).
        memory_mb: Address-space cap of the sandboxed process in MiB (``RLIMIT_AS``); the
            preloaded numpy/torch/IPython already take about 1 GiB of it.
        max_processes: Processes and threads the sandbox user may have (``RLIMIT_NPROC``;
            only enforced when the grader runs as root and can switch to an unprivileged user).
        max_output_kb: Captured output per cell, in KiB; the rest is dropped.
        max_file_mb: Largest file the sandbox may write (``RLIMIT_FSIZE``), in MiB; also the
            size of its private ``/tmp``, ``/var/tmp`` and ``/dev/shm``.
        sandbox_uid: First user id of the unprivileged users that run submissions (one per
            worker slot, each locked by the run), when the grader runs as root.
        hidden_seed: Seed of the hidden cases.
        scheduler: Address of a Dask distributed scheduler (``tcp://HOST:PORT``): each
            notebook then runs in the same sandbox on one of the cluster's workers, and this
            process decides the verdicts and writes every output. Empty: grade here, with no
            Dask process started.
        run_all_cells: Also run the code cells after a notebook's last test cell (its
            applied, ungraded sections). They cannot change a grade, so by default they are not
            run; with this setting the graded notebooks carry their printed output too.
        feedback: Write per-student feedback HTML.
        plots: Write the grade-distribution and pass-rate plots and ``summary.html``.
    """

    jobs: int = _setting(what="notebooks graded at once", low=1, high=1024,
                         factory=available_cpus)
    cell_timeout: float = _setting(60.0, "wall-clock seconds per cell and per test case",
                                   0.1, 86400)
    submission_timeout: float = _setting(600.0, "wall-clock seconds per notebook", 1, 86400)
    cpu_seconds: int = _setting(600, "CPU seconds per notebook", 1, 86400)
    memory_mb: int = _setting(3072, "address-space cap per notebook, MiB", 1024, 2**20)
    max_processes: int = _setting(64, "processes and threads per sandbox (needs root)", 8,
                                  4096)
    max_output_kb: int = _setting(256, "captured output per cell, KiB", 1, 2**20)
    max_file_mb: int = _setting(64, "largest file a submission may write, MiB", 1, 2**20)
    sandbox_uid: int = _setting(61000, "first uid of the unprivileged sandbox users", 1000,
                                2**31 - 2**16)
    hidden_seed: int = _setting(HIDDEN_SEED, "seed of the hidden cases", 0, 2**63 - 1)
    scheduler: str = _setting("", "Dask scheduler address, tcp://HOST:PORT (default: grade "
                              "here)")
    run_all_cells: bool = _setting(False, "also run the cells after the last test cell",
                                   option=False)
    feedback: bool = _setting(True, "write per-student feedback", option=False)
    plots: bool = _setting(True, "write plots and summary.html", option=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = {"int": int, "float": float, "bool": bool, "str": str}[str(f.type)]
            if kind is float and type(value) is int:
                value = float(value)
                setattr(self, f.name, value)
            if type(value) is not kind:
                raise SettingsError(f"setting {f.name} must be a {kind.__name__}, got "
                                    f"{value!r}")
            low, high = f.metadata["low"], f.metadata["high"]
            if kind is str and not _SCHEDULER.match(value):
                raise SettingsError(f"setting {f.name} must be a Dask scheduler address such "
                                    f"as tcp://HOST:PORT, got {value!r}")
            if low is not None and not low <= value <= high:
                raise SettingsError(f"setting {f.name} must be between {low:g} and {high:g}, "
                                    f"got {value!r}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def grading_key(self) -> dict[str, object]:
        """The settings that can change a grade (part of each result's fingerprint)."""
        keep = ("cell_timeout", "submission_timeout", "cpu_seconds", "memory_mb",
                "max_processes", "max_file_mb", "hidden_seed", "run_all_cells")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in keep}


def options() -> dict[str, tuple[type, str]]:
    """Field name -> (type, help) of every setting that is a ``grade`` option."""
    kinds = {"int": int, "float": float, "str": str}
    return {f.name: (kinds[str(f.type)], f.metadata["help"]) for f in fields(GradeSettings)
            if f.metadata["option"]}
