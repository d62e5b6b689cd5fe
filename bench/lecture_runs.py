"""Execute lectures many times in a row and report the distribution of their wall times.

The proof that lectures never hang: each lecture runs ``--runs`` times (20 by default), each
time in a fresh kernel through nbclient (the engine ``jupyter nbconvert --execute`` uses), with
the whole-notebook budget the tests use (``autograder.engine.execute.LECTURE_BUDGET_S``). A hang
shows as a run far slower than the lecture's median, or as a budget exceeded. The script prints,
per lecture, the minimum, median and maximum, the ratio max / median, and every run's time, and
exits with status 1 when a run failed, exceeded the budget or took more than ``--max-ratio``
(1.5) times its median.

Run it on a quiet machine (``make bench-lectures``): the ratio measures hangs, not other load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from autograder.engine.execute import LECTURE_BUDGET_S, run_lecture

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lectures", nargs="*", type=Path,
                        help="lecture notebooks (default: every lectures/*.ipynb)")
    parser.add_argument("--runs", type=int, default=20, help="runs per lecture (default 20)")
    parser.add_argument("--max-ratio", type=float, default=1.5,
                        help="fail when a run takes longer than this times the median")
    args = parser.parse_args(argv)
    paths = args.lectures or sorted((ROOT / "lectures").glob("*.ipynb"))
    failed = False
    print(f"{'lecture':34} {'runs':>4} {'min':>6} {'median':>6} {'max':>6} {'max/med':>7}")
    for path in paths:
        times, problems = [], []
        for number in range(1, args.runs + 1):
            run = run_lecture(path, LECTURE_BUDGET_S)
            times.append(run.seconds)
            if run.problem:
                problems.append(f"run {number}: {run.problem}")
        median = statistics.median(times)
        ratio = max(times) / median
        bad = problems or ratio > args.max_ratio
        failed |= bool(bad)
        print(f"{path.name:34} {len(times):4d} {min(times):6.1f} {median:6.1f} {max(times):6.1f} "
              f"{ratio:7.2f}{'  FAIL' if bad else ''}")
        print("    runs (s): " + " ".join(f"{t:.1f}" for t in times))
        for problem in problems:
            print(f"    {problem}")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
