"""Where a grading run's time goes, phase by phase (``grade --profile``, ``make bench``).

Phases of the grading process itself are timed here with :func:`time.perf_counter`; the
sandbox's phases (``fork``, ``cells``, ``cases``, ``cleanup``) are timed by the pool from the
messages it receives (:attr:`autograder.engine.pool.JobOutcome.phases`). Sandboxes run
``jobs`` at a time, so their phases add up to more than the run's wall time; the grader's own
phases run one at a time in the grading process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: Every phase, in the order a submission meets them, with what it covers.
PHASES = {
    "setup": "once per run: the assignment recorded in the gradebook, sources read",
    "prepare": "reading the submission, rebuilding it from the source, its fingerprint",
    "fork": "scratch copy, fork from the warm server and isolation, in the sandbox",
    "cells": "the student's code cells, in the sandbox",
    "cases": "the student's functions on the visible and hidden cases, in the sandbox",
    "cleanup": "end of the sandbox: processes reaped, scratch removed",
    "verdicts": "expected values (the oracles) and comparisons, in the grader",
    "gradebook": "recording in nbgrader's gradebook (graded notebooks, autograde converter)",
    "feedback": "the student's feedback page and the resume point (results/)",
    "reports": "once per run: grades.csv, report.json, plots and summary.html",
}
#: Phases that run inside the sandboxes (in parallel, up to ``jobs`` at a time).
SANDBOX_PHASES = ("fork", "cells", "cases", "cleanup")


@dataclass
class Profile:
    """Seconds spent per phase in one grading run.

    Attributes:
        seconds: Phase name -> seconds, summed over the run.
        graded: Submissions graded in this run (stored results reused are not counted).
        wall: Wall-clock seconds of the whole run.
    """

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    graded: int = 0
    wall: float = 0.0

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as part of phase ``name``."""
        if name not in PHASES:
            raise KeyError(f"unknown phase {name!r}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def add(self, phases: Mapping[str, float]) -> None:
        """Add a sandbox's own phase times (unknown names are ignored)."""
        for name, seconds in phases.items():
            if name in self.seconds:
                self.seconds[name] += float(seconds)

    def as_dict(self) -> dict[str, object]:
        per = max(self.graded, 1)
        return {"graded": self.graded, "wall_s": round(self.wall, 3),
                "phases": {name: {"seconds": round(s, 3), "per_submission": round(s / per, 4),
                                  "what": PHASES[name]}
                           for name, s in self.seconds.items()}}

    def format(self) -> str:
        """A table: each phase's total seconds, seconds per graded submission and share."""
        per = max(self.graded, 1)
        total = sum(self.seconds.values()) or 1.0
        lines = [f"Where the time went ({self.graded} submission(s) graded, {self.wall:.1f} s "
                 "wall; sandbox phases run in parallel):",
                 f"  {'phase':<10} {'total s':>9} {'s/submission':>13} {'share':>6}"]
        for name, seconds in self.seconds.items():
            where = " (sandbox)" if name in SANDBOX_PHASES else ""
            lines.append(f"  {name:<10} {seconds:>9.2f} {seconds / per:>13.3f} "
                         f"{100 * seconds / total:>5.1f}%  {PHASES[name]}{where}")
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=1), encoding="utf-8")
