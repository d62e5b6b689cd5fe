"""``python -m autograder``: a thin command line over release, kit, check, grade and demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.course import CourseError, find_root
from autograder.kit import KitError
from autograder.settings import GradeSettings, SettingsError, options


def _release(args: argparse.Namespace) -> int:
    from autograder.release import record, release

    if args.record:
        print(f"recorded {args.assignment or 'every assignment'} in "
              f"{record(find_root(), args.assignment)}")
        return 0
    for path in release(find_root(), args.assignment, release_dir=args.out):
        print(f"released {path}")
    return 0


def _kit(args: argparse.Namespace) -> int:
    import time

    from autograder.kit import build

    start = time.perf_counter()
    kit = build(find_root(), args.assignment, args.out)
    size = sum((kit.path / f).stat().st_size for f in kit.files)
    print(f"kit of {', '.join(kit.assignments)}: {kit.path} ({len(kit.files)} files, "
          f"{size / 1e6:.2f} MB) and {kit.archive} ({kit.archive.stat().st_size / 1e6:.2f} MB) "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


def _check(args: argparse.Namespace) -> int:
    from autograder.check import main as check_main

    return check_main([args.notebook, "--timeout", str(args.timeout)])


def _settings(args: argparse.Namespace) -> GradeSettings:
    chosen = {name: getattr(args, name) for name in options()
              if getattr(args, name, None) is not None}
    return GradeSettings(**chosen, feedback=not args.no_feedback, plots=not args.no_plots,
                         run_all_cells=args.run_all_cells)


def _grade(args: argparse.Namespace) -> int:
    from autograder.course import course_folders
    from autograder.grade import grade, student_dirs
    from autograder.outputs import reports
    from autograder.outputs.profile import Profile
    from autograder.outputs.progress import Progress

    root = find_root()
    course = course_folders(root)
    submissions = Path(args.submissions) if args.submissions else course.submitted
    if not submissions.is_dir():
        print(f"error: no submissions folder {submissions}"
              + ("" if args.submissions else " (run `nbgrader collect` first, or pass "
                 "--submissions)"), file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else root / "grading" / args.assignment
    settings = _settings(args)
    profile = Profile()
    with Progress(len(student_dirs(submissions))) as bar:
        result = grade(root, args.assignment, submissions, out, settings=settings,
                       db_url=args.db or course.db_url,
                       autograded=None if args.db else course.autograded,
                       progress=lambda s: bar.advance(f"{s.student_id}: {s.score:g}/"
                                                      f"{s.max_score:g} {s.status}"),
                       profile=profile)
    print()
    print(reports.format_table(result))
    if args.profile:
        profile.write(result.out / "profile.json")
        print()
        print(profile.format())
    print("\nIsolation in effect:")
    for measure, description in result.isolation.items():
        print(f"  {measure}: {description}")
    print(f"\nWrote {result.out / 'grades.csv'}, {result.out / 'report.json'}"
          + ("" if args.no_plots else f" and {result.out / 'summary.html'}"))
    from autograder.outputs.results import GRADING_ERROR

    attention = [s.student_id for s in result.students if s.status == GRADING_ERROR]
    if attention:
        print(f"\n{len(attention)} student(s) need attention (the grader failed on their "
              f"submission; see report.json): {', '.join(attention)}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from autograder.demo import demo

    demo(find_root(), args.assignment, out=args.out, timeout=args.timeout)
    return 0


def _book(args: argparse.Namespace) -> int:
    from autograder.book import main as book_main

    return book_main(find_root(), args.lecture, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    release = verbs.add_parser("release", help="regenerate notebooks/ from source/")
    release.add_argument("assignment", nargs="?", help="one assignment (default: all)")
    release.add_argument("--out", type=Path, help="release folder (default: notebooks/)")
    release.add_argument("--record", action="store_true",
                         help="only record the assignments and their notebooks in the course's "
                              "gradebook, for Formgrader (make lab does it); notebooks/ is kept")
    release.set_defaults(run=_release)

    kit = verbs.add_parser("kit", help="build the student kit (no solutions, no hidden tests)")
    kit.add_argument("assignment", nargs="*", help="assignments (default: all)")
    kit.add_argument("--out", type=Path, default=Path("build/kit"),
                     help="kit folder; a zip of it is written beside it (default: build/kit)")
    kit.set_defaults(run=_kit)

    check = verbs.add_parser("check",
                             help="run a notebook's visible tests in a fresh Python process")
    check.add_argument("notebook")
    check.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    check.set_defaults(run=_check)

    grade = verbs.add_parser("grade", help="grade a class with the hidden tests, in sandboxes")
    grade.add_argument("assignment")
    grade.add_argument("--submissions",
                       help="folder of <student_id>/<assignment>/<notebook>.ipynb (default: "
                            "the course's submitted/, where `nbgrader collect` puts them)")
    grade.add_argument("--out",
                       help="folder for grades.csv, report.json, summary.html, feedback/ "
                            "(default: grading/ASSIGNMENT)")
    grade.add_argument("--db",
                       help="gradebook URL (default: the course's gradebook, which Formgrader "
                            "shows; the graded notebooks then go to the course's autograded/ "
                            "for `nbgrader generate_feedback`)")
    limits = grade.add_argument_group("limits (see the README's instructor section)")
    defaults = GradeSettings()
    for name, (kind, what) in options().items():
        limits.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind,
                            help=f"{what} (default {getattr(defaults, name)})")
    limits.add_argument("--timeout", dest="cell_timeout", type=float, help=argparse.SUPPRESS)
    grade.add_argument("--no-feedback", action="store_true", help="skip feedback HTML")
    grade.add_argument("--no-plots", action="store_true", help="skip plots and summary.html")
    grade.add_argument("--run-all-cells", action="store_true",
                       help="also run the cells after each notebook's last test cell (they "
                            "cannot change a grade; by default they are not run)")
    grade.add_argument("--profile", action="store_true",
                       help="print where the time went, phase by phase, and write "
                            "OUT/profile.json")
    grade.set_defaults(run=_grade)

    demo = verbs.add_parser("demo", help="grade a generated sample class and print the table")
    demo.add_argument("--assignment", default="a01_critical_points")
    demo.add_argument("--out", type=Path, help="keep the class and reports here")
    demo.add_argument("--timeout", type=int, default=60)
    demo.set_defaults(run=_demo)

    book = verbs.add_parser("book", help="execute the lectures into an offline HTML book")
    book.add_argument("lecture", nargs="*",
                      help="lecture names such as 05_batch_normalization (default: all)")
    book.add_argument("--out", type=Path, default=Path("build/book"),
                      help="the book's folder (default: build/book); an earlier book there is "
                           "replaced, a folder with other files is refused")
    book.set_defaults(run=_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CourseError, KitError, SettingsError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
