"""``python -m autograder``: a thin command line over release, check, grade and demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.course import CourseError, find_root


def _release(args: argparse.Namespace) -> int:
    from autograder.release import release

    for path in release(find_root(), args.assignment, release_dir=args.out):
        print(f"released {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from autograder.check import check

    path = Path(args.notebook)
    if not path.is_file():
        print(f"error: no notebook at {path}", file=sys.stderr)
        return 2
    try:
        report = check(path, timeout=args.timeout)
    except Exception as exc:  # noqa: BLE001 - report any failure to open or run it plainly
        print(f"error: could not run {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(report.format())
    return 0 if report.all_passed else 1


def _grade(args: argparse.Namespace) -> int:
    from autograder import reports
    from autograder.grade import grade

    result = grade(find_root(), args.assignment, Path(args.submissions), Path(args.out),
                   db_url=args.db, timeout=args.timeout, feedback=not args.no_feedback)
    print()
    print(reports.format_table(result))
    print(f"\nWrote {result.out / 'grades.csv'} and {result.out / 'report.json'}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from autograder.demo import demo

    demo(find_root(), args.assignment, out=args.out, timeout=args.timeout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    release = verbs.add_parser("release", help="regenerate notebooks/ from source/")
    release.add_argument("assignment", nargs="?", help="one assignment (default: all)")
    release.add_argument("--out", type=Path, help="release folder (default: notebooks/)")
    release.set_defaults(run=_release)

    check = verbs.add_parser("check", help="run a notebook's visible tests in a fresh kernel")
    check.add_argument("notebook")
    check.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    check.set_defaults(run=_check)

    grade = verbs.add_parser("grade", help="grade a class with the hidden tests")
    grade.add_argument("assignment")
    grade.add_argument("--submissions", required=True,
                       help="folder of <student_id>/<assignment>/<notebook>.ipynb")
    grade.add_argument("--out", required=True, help="folder for grades.csv, report.json, feedback")
    grade.add_argument("--db", help="gradebook URL (default: OUT/gradebook.db)")
    grade.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    grade.add_argument("--no-feedback", action="store_true", help="skip feedback HTML")
    grade.set_defaults(run=_grade)

    demo = verbs.add_parser("demo", help="grade a generated sample class and print the table")
    demo.add_argument("--assignment", default="a01_critical_points")
    demo.add_argument("--out", type=Path, help="keep the class and reports here")
    demo.add_argument("--timeout", type=int, default=60)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CourseError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
