"""How long a student waits for ``python -m wwit.checks NOTEBOOK``, for every notebook.

Every notebook of every assignment is found (``source/<assignment>/*.ipynb``): the student's
solved notebook (the released notebook with every answer cell holding the solution, built by
``autograder.demo.build_submission`` in a temporary folder: visible tests only, as a student has
it) and the released stub (``notebooks/<assignment>/*.ipynb``). The real command runs on each in
a subprocess, ``--runs`` times (3 by default), from the repository's root:

* cold: ``WWIT_CHECK_WARM=0``, a fresh Python process per check (what the first check of a
  session costs, and every check outside a terminal);
* warm: ``WWIT_CHECK_WARM=1`` once the warm process is loaded (every later check run from a
  terminal on Linux): one untimed check starts it, the script waits until it is ready, then
  times the runs.

It prints, per notebook, the median wall time of each (and the minimum and maximum), the exit
code and the points line of the report, and stops the warm processes at the end. The target is
at most 5 s for every solved notebook, measured on a quiet machine: other load inflates the
times.

Usage: ``.venv/bin/python bench/check_times.py [--runs 3] [--no-warm] [--only a03]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 5.0


@dataclass
class Timing:
    """The runs of one notebook in one mode."""

    seconds: list[float]
    code: int
    points: str

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def cell(self) -> str:
        return (f"{self.median:5.1f} ({min(self.seconds):.1f}-{max(self.seconds):.1f})"
                if self.seconds else "-")


def notebooks(solved_in: Path, root: Path = ROOT) -> list[tuple[str, Path]]:
    """``(kind, path)`` of every notebook, in assignment order: the student's solved notebook
    (written into ``solved_in``) and the released stub."""
    sys.path.insert(0, str(root))
    from autograder.course import assignments
    from autograder.demo import SOLUTION, Student, build_submission

    found = []
    for assignment in assignments(root):
        solved = build_submission(root, assignment, Student("solved", default=SOLUTION),
                                  solved_in)
        for source in sorted((root / "source" / assignment).glob("*.ipynb")):
            found.append(("solved", solved / source.name))
            stub = root / "notebooks" / assignment / source.name
            if stub.is_file():
                found.append(("stub", stub))
    return found


def label(path: Path) -> str:
    """``<assignment>/<notebook>.ipynb``."""
    return f"{path.parent.name}/{path.name}"


def run_once(path: Path, warm: bool) -> tuple[float, int, str]:
    """Wall seconds, exit code and points line of one ``python -m wwit.checks`` command."""
    env = dict(os.environ, WWIT_CHECK_WARM="1" if warm else "0")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "wwit.checks", str(path)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    points = re.search(r"Visible tests: (\S+) points", run.stdout)
    if run.returncode == 2:
        print(f"  {path}: {run.stderr.strip()[-300:]}", file=sys.stderr)
    return seconds, run.returncode, points.group(1) if points else "?"


def measure(path: Path, warm: bool, runs: int) -> Timing:
    seconds, code, points = [], 0, "?"
    for _ in range(runs):
        elapsed, code, points = run_once(path, warm)
        seconds.append(elapsed)
    timing = Timing(seconds, code, points)
    print(f"  {'warm' if warm else 'cold'}  {label(path)}  {timing.cell()}",
          file=sys.stderr, flush=True)
    return timing


def stop_warm() -> None:
    subprocess.run([sys.executable, "-m", "wwit.checks", "--stop-warm"], cwd=ROOT,
                   capture_output=True, timeout=60)


def start_warm(path: Path, timeout: float = 120) -> bool:
    """Start the warm process with one untimed check and wait until it has loaded."""
    sys.path.insert(0, str(ROOT))
    from wwit.checks import warm

    home = warm.folder()
    before = time.time()
    run_once(path, warm=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if home is not None and any(p.stat().st_mtime >= before - 1
                                    for p in home.glob("*.ready")):
            return True
        time.sleep(0.2)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per notebook and mode")
    parser.add_argument("--no-warm", action="store_true", help="time cold checks only")
    parser.add_argument("--only", default="", help="notebooks whose path contains this")
    args = parser.parse_args(argv)
    solved_in = Path(tempfile.mkdtemp(prefix="check-times-"))
    found = [(kind, p) for kind, p in notebooks(solved_in) if args.only in str(p)]
    if not found:
        print("no notebook matches", file=sys.stderr)
        return 2
    print(f"python -m wwit.checks NOTEBOOK, wall seconds, median (min-max) of {args.runs} runs;"
          f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    stop_warm()
    try:
        cold = {p: measure(p, False, args.runs) for _, p in found}
        warm = {}
        if not args.no_warm:
            if not start_warm(found[0][1]):
                print("the warm process did not become ready", file=sys.stderr)
            warm = {p: measure(p, True, args.runs) for _, p in found}
    finally:
        stop_warm()
        shutil.rmtree(solved_in, ignore_errors=True)
    width = max(len(label(p)) for _, p in found)
    header = f"{'notebook':<{width}}  {'kind':<6}  {'cold s':<15}  {'warm s':<15}  exit  points"
    print(header)
    print("-" * len(header))
    slow = []
    for kind, p in found:
        c, w = cold[p], warm.get(p)
        over = kind == "solved" and (w or c).median > TARGET_S
        if over:
            slow.append(label(p))
        print(f"{label(p):<{width}}  {kind:<6}  {c.cell():<15}  "
              f"{w.cell() if w else '-':<15}  {c.code:>4}  {c.points}"
              + ("  (over 5 s)" if over else ""))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if slow:
        print(f"over {TARGET_S:g} s ({'warm' if warm else 'cold'}): {', '.join(slow)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
