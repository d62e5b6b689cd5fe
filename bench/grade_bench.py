"""Benchmark: plain ``nbgrader autograde`` against ``python -m autograder grade``.

Both graders grade the same generated class of each assignment, one after the other, in one run
on one machine. The class is honest (no cheating, nothing broken): correct solutions, one
exercise wrong, the unanswered stub, partially answered, and slow (correct, plus about 2 s of
busy CPU work when the first answer cell runs), so the two graders must give identical scores.

Measured per grader and assignment: wall seconds of the one grading command, CPU seconds of
the command and all its descendants (this script adopts orphans to count them), and the peak
of the summed RSS of its whole process tree (sampled from /proc every 0.2 s). Results are
printed and written to ``WORK/results.json``; the work folder is a temporary one unless
``--keep DIR`` is given.

Usage: ``make bench BENCH_ARGS="--assignments a01_critical_points --students 6"``.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder import notebooks
from autograder.course import assignments, load_config, source_notebooks
from autograder.demo import SAMPLE_CLASSES, SOLUTION, STUB, Student, build_submission

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = tuple(assignments(ROOT))

#: The class cycles over these variants: half correct, one in five wrong, one in ten of others.
PATTERN = ("correct", "wrong", "unanswered", "partial", "slow",
           "correct", "correct", "wrong", "correct", "correct")
FULL_MARKS = ("correct", "slow")

#: Prepended to the first answer cell of a "slow" submission: ~2 s of CPU time when it runs.
BUSY = """import time as _bench_time

_bench_start = _bench_time.process_time()
while _bench_time.process_time() - _bench_start < 2.0:  # about 2 s of busy CPU work
    sum(_i * _i for _i in range(10_000))

"""

SAMPLE_INTERVAL_S = 0.2


# --------------------------------------------------------------------------- the class


@dataclass(frozen=True)
class Planned:
    """One generated student: the demo builder's spec and the variant it stands for."""

    student: Student
    variant: str


def _is_wrong(s: Student) -> bool:
    """A demo student with every exercise answered and at least one answer wrong."""
    return (not s.breakage and s.default == SOLUTION
            and any(v not in (SOLUTION, STUB) for v in s.answers.values()))


def _is_partial(s: Student) -> bool:
    """A demo student with some exercises solved and the others left as the stub."""
    return not s.breakage and {s.default, *s.answers.values()} == {SOLUTION, STUB}


def slow_answers(assignment: str) -> dict[str, str]:
    """Answers of a slow student: the first answer cell is the solution after a busy loop."""
    first_notebook = source_notebooks(ROOT, assignment)[0]
    grade_id, cell = next(iter(notebooks.answer_cells(notebooks.read(first_notebook)).items()))
    return {grade_id: BUSY + notebooks.without_solution_markers(cell.source)}


def plan_class(assignment: str, n: int) -> list[Planned]:
    """``n`` honest students cycling over :data:`PATTERN`; wrong and partial answers are
    taken from the demo's sample class of the assignment (an assignment without one gets
    unanswered notebooks for "wrong", and only its first exercise solved for "partial")."""
    sample = SAMPLE_CLASSES.get(assignment, [])
    pools = {
        "correct": [{}],
        "wrong": [s.answers for s in sample if _is_wrong(s)],
        "partial": [s.answers for s in sample if _is_partial(s)],
        "unanswered": [{}],
        "slow": [slow_answers(assignment)],
    }
    defaults = {"partial": [s.default for s in sample if _is_partial(s)]}
    if not pools["wrong"]:
        pools["wrong"], defaults["wrong"] = [{}], [STUB]
    if not pools["partial"]:
        first = next(iter(slow_answers(assignment)))
        pools["partial"], defaults["partial"] = [{first: SOLUTION}], [STUB]
    width = max(3, len(str(n)))
    used: dict[str, int] = {}
    planned = []
    for i in range(n):
        variant = PATTERN[i % len(PATTERN)]
        k = used.get(variant, 0)
        used[variant] = k + 1
        answers = pools[variant][k % len(pools[variant])]
        if variant == "unanswered":
            default = STUB
        elif variant in defaults:
            default = defaults[variant][k % len(defaults[variant])]
        else:
            default = SOLUTION
        student = Student(f"s{i + 1:0{width}d}_{variant}", dict(answers), default=default)
        planned.append(Planned(student, variant))
    return planned


def build(assignment: str, planned: list[Planned], submissions: Path) -> None:
    for p in planned:
        build_submission(ROOT, assignment, p.student, submissions)


# --------------------------------------------------------------------------- measuring


def _children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0  # gone, or a zombie / kernel thread without VmRSS


def tree_rss_kb(pid: int) -> int:
    """Summed RSS (kB) of ``pid`` and all its descendants."""
    children = _children_map()
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        total += _rss_kb(current)
        stack.extend(children.get(current, []))
    return total


class PeakSampler(threading.Thread):
    """Samples the summed RSS of a process tree every :data:`SAMPLE_INTERVAL_S`, keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self._stop_event = pid, 0, threading.Event()

    def run(self) -> None:
        while True:
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            if self._stop_event.wait(SAMPLE_INTERVAL_S):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass
class Run:
    """One timed grading command."""

    command: list[str]
    wall_s: float
    cpu_s: float
    peak_mb: float
    returncode: int
    log: str


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``), so that helpers a grader
    leaves unreaped (a multiprocessing forkserver, say) still count in its CPU time."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_orphans(limit_s: float = 15.0) -> None:
    """Wait for adopted descendants to exit (up to ``limit_s``), adding their CPU time to ours."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Run:
    """Run ``command`` (output to ``log``); wall time, CPU time and peak tree RSS."""
    cpu_before = _cpu_children()
    with open(log, "w", encoding="utf-8") as handle:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=handle,
                                stderr=subprocess.STDOUT)
        sampler = PeakSampler(proc.pid)
        sampler.start()
        returncode = proc.wait()
        wall = time.perf_counter() - start
        sampler.stop()
    reap_orphans()
    return Run(command, wall, _cpu_children() - cpu_before, sampler.peak_kb / 1024, returncode,
               str(log))


def run_quiet(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    """An untimed set-up command; stops the benchmark with its log when it fails."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"set-up command failed ({done.returncode}): {' '.join(command)}\n"
                         f"see {log}")


def grader_env() -> dict[str, str]:
    """The same environment for both graders: this venv's scripts first on PATH (nbgrader runs
    ``alembic`` as a command) and the repository on PYTHONPATH (test cells import
    ``autograder.checks``)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    env.pop("COURSE_ROOT", None)
    return env


# --------------------------------------------------------------------------- the graders

NBGRADER_CONFIG = """# Throwaway course for the grading benchmark: the course's own configuration,
# with this folder as the course directory and its own SQLite gradebook.
import os

c = get_config()  # noqa: F821
load_subconfig({course_config!r})  # noqa: F821
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
"""


def nbgrader_setup(course: Path, assignment: str, submissions: Path, students: list[str],
                   env: dict[str, str]) -> None:
    """A course directory with the assignment generated, the class submitted and imported."""
    log = course / "setup.log"
    (course / "source").mkdir(parents=True)
    shutil.copytree(ROOT / "source" / assignment, course / "source" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (course / "nbgrader_config.py").write_text(
        NBGRADER_CONFIG.format(course_config=str(ROOT / "nbgrader_config.py")))
    nbgrader = [sys.executable, "-m", "nbgrader"]
    run_quiet([*nbgrader, "generate_assignment", assignment, "--create", "--force"], course, env,
              log)
    shutil.copytree(submissions, course / "submitted")
    with open(course / "students.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id"])
        writer.writerows([s] for s in students)
    run_quiet([*nbgrader, "db", "student", "import", "students.csv"], course, env, log)


def nbgrader_scores(course: Path, assignment: str, students: list[str]) -> dict[str, float]:
    """Each student's submission score from the throwaway course's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    course_id = load_config(ROOT).CourseDirectory.course_id
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=course_id) as gb:
        for student in students:
            try:
                score = gb.find_submission(assignment, student).score
            except MissingEntry:
                continue
            if score is not None:
                scores[student] = float(score)
    return scores


def engine_has_jobs(env: dict[str, str]) -> bool:
    """Whether ``python -m autograder grade`` accepts ``--jobs`` (being added)."""
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    return "--jobs" in done.stdout


def engine_scores(out: Path) -> tuple[dict[str, float], dict[str, str]]:
    """Scores and statuses from the engine's ``grades.csv``."""
    scores, statuses = {}, {}
    path = out / "grades.csv"
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                scores[row["student_id"]] = float(row["score"])
                statuses[row["student_id"]] = row["status"]
    return scores, statuses


# --------------------------------------------------------------------------- one assignment


@dataclass
class AssignmentResult:
    assignment: str
    submissions: int
    variants: dict[str, int]
    max_score: float
    nbgrader: Run | None = None
    ours: Run | None = None
    students: list[dict] = field(default_factory=list)
    mismatches: list[dict] = field(default_factory=list)
    unexpected: list[dict] = field(default_factory=list)
    profile: dict | None = None


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < 1e-6


def _expected_ok(variant: str, score: float | None, max_score: float) -> bool:
    """Sanity check of a score against the variant (catches both graders failing alike)."""
    if score is None:
        return False
    if variant in FULL_MARKS:
        return abs(score - max_score) < 1e-6
    if variant == "unanswered":
        return abs(score) < 1e-6
    return 0 <= score < max_score - 1e-6


def bench_assignment(assignment: str, args: argparse.Namespace, work: Path,
                     env: dict[str, str], jobs_flag: bool) -> AssignmentResult:
    base = work / assignment
    if base.exists():
        shutil.rmtree(base)
    submissions = base / "submissions"
    planned = plan_class(assignment, args.students)
    build(assignment, planned, submissions)
    students = [p.student.student_id for p in planned]
    variants = {v: sum(p.variant == v for p in planned) for v in dict.fromkeys(PATTERN)}
    max_score = sum(notebooks.max_points(notebooks.read(p))
                    for p in source_notebooks(ROOT, assignment))
    result = AssignmentResult(assignment, len(planned), variants, max_score)
    mix = ", ".join(f"{v} {k}" for v, k in variants.items() if k)
    print(f"\n== {assignment}: {len(planned)} submissions ({mix}), max score {max_score:g}",
          flush=True)

    nb_scores: dict[str, float] = {}
    if not args.skip_nbgrader:
        course = base / "nbgrader_course"
        print("  nbgrader: setting up the course (generate_assignment, db student import) ...",
              flush=True)
        nbgrader_setup(course, assignment, submissions, students, env)
        result.nbgrader = timed([sys.executable, "-m", "nbgrader", "autograde", assignment],
                                course, env, base / "nbgrader_autograde.log")
        nb_scores = nbgrader_scores(course, assignment, students)
        print(f"  nbgrader autograde: {result.nbgrader.wall_s:.1f} s, "
              f"exit {result.nbgrader.returncode}, log {result.nbgrader.log}", flush=True)

    out = base / "ours"
    command = [sys.executable, "-m", "autograder", "grade", assignment,
               "--submissions", str(submissions), "--out", str(out),
               "--db", f"sqlite:///{out / 'gradebook.db'}"]
    if jobs_flag:
        command += ["--jobs", str(args.jobs), "--profile"]
    if args.run_all_cells:
        command.append("--run-all-cells")
    result.ours = timed(command, ROOT, env, base / "ours_grade.log")
    try:
        result.profile = json.loads((out / "profile.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result.profile = None
    our_scores, statuses = engine_scores(out)
    print(f"  python -m autograder grade: {result.ours.wall_s:.1f} s, "
          f"exit {result.ours.returncode}, log {result.ours.log}", flush=True)

    for p in planned:
        sid = p.student.student_id
        row = {"student_id": sid, "variant": p.variant, "nbgrader": nb_scores.get(sid),
               "ours": our_scores.get(sid), "ours_status": statuses.get(sid)}
        result.students.append(row)
        if not args.skip_nbgrader and not _same(row["nbgrader"], row["ours"]):
            result.mismatches.append(row)
        if not _expected_ok(p.variant, row["ours"], max_score):
            result.unexpected.append(row)
    return result


# --------------------------------------------------------------------------- reporting


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _score(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def table(results: list[AssignmentResult]) -> str:
    """One row per assignment and one overall."""
    head = (f"{'assignment':<20} {'subs':>5} | {'nbgrader':^35} | {'ours':^35} | {'ratio':>8}\n"
            f"{'':<20} {'':>5} | " + " | ".join(
                [f"{'wall s':>8} {'s/sub':>7} {'cpu s':>8} {'peak MB':>9}"] * 2)
            + f" | {'nbg/ours':>8}")
    lines = [head, "-" * len(head.splitlines()[1])]

    def row(name: str, subs: int, nbg: list[Run | None], ours: list[Run | None]) -> str:
        cells = [f"{name:<20} {subs:>5}"]
        walls = []
        for runs in (nbg, ours):
            if not runs or any(r is None for r in runs):
                cells.append(f"{'-':>8} {'-':>7} {'-':>8} {'-':>9}")
                walls.append(None)
                continue
            wall = sum(r.wall_s for r in runs)
            walls.append(wall)
            cells.append(f"{wall:>8.1f} {wall / subs:>7.2f} {sum(r.cpu_s for r in runs):>8.1f} "
                         f"{max(r.peak_mb for r in runs):>9.0f}")
        ratio = f"{walls[0] / walls[1]:.2f}x" if None not in walls and walls[1] else "-"
        return " | ".join(cells) + f" | {ratio:>8}"

    for r in results:
        lines.append(row(r.assignment, r.submissions, [r.nbgrader], [r.ours]))
    if len(results) > 1:
        lines.append("-" * len(head.splitlines()[1]))
        lines.append(row("overall", sum(r.submissions for r in results),
                         [r.nbgrader for r in results], [r.ours for r in results]))
    return "\n".join(lines)


def profile_table(results: list[AssignmentResult]) -> str:
    """Our engine's seconds per submission in each phase (``grade --profile``), per assignment
    and overall (weighted by submissions)."""
    profiled = [r for r in results if r.profile]
    if not profiled:
        return "(no phase breakdown: the engine has no --profile)"
    from autograder.outputs.profile import PHASES, SANDBOX_PHASES

    names = list(PHASES)
    head = f"{'assignment':<22}" + "".join(f"{n:>10}" for n in names)
    lines = ["Where our time went, seconds per submission (sandbox phases: " +
             ", ".join(SANDBOX_PHASES) + ", run --jobs at a time):", head, "-" * len(head)]
    totals = dict.fromkeys(names, 0.0)
    graded = 0
    for r in profiled:
        phases, n = r.profile["phases"], max(r.profile["graded"], 1)
        graded += r.profile["graded"]
        for name in names:
            totals[name] += phases[name]["seconds"]
        lines.append(f"{r.assignment:<22}" + "".join(
            f"{phases[name]['seconds'] / n:>10.3f}" for name in names))
    if len(profiled) > 1:
        lines.append("-" * len(head))
        lines.append(f"{'overall':<22}" + "".join(
            f"{totals[name] / max(graded, 1):>10.3f}" for name in names))
    return "\n".join(lines)


def score_lines(results: list[AssignmentResult], skip_nbgrader: bool) -> list[str]:
    lines = []
    for r in results:
        if skip_nbgrader:
            same = "not compared (--skip-nbgrader)"
        else:
            k = len(r.mismatches)
            same = f"{'yes' if not k else 'no'} ({k} mismatches)"
        lines.append(f"{r.assignment}: honest scores identical: {same}")
        for m in r.mismatches[:5]:
            lines.append(f"    {m['student_id']}: nbgrader {_score(m['nbgrader'])}, "
                         f"ours {_score(m['ours'])} ({m['ours_status']})")
        k = len(r.unexpected)
        lines.append(f"{r.assignment}: our scores as expected (correct and slow full marks, "
                     f"unanswered 0, wrong and partial in between): "
                     f"{'yes' if not k else f'no ({k} off)'}")
        for m in r.unexpected[:5]:
            lines.append(f"    {m['student_id']}: ours {_score(m['ours'])}/{r.max_score:g} "
                         f"({m['ours_status']})")
    if len(results) > 1 and not skip_nbgrader:
        total = sum(len(r.mismatches) for r in results)
        lines.append(f"overall: honest scores identical: {'yes' if not total else 'no'} "
                     f"({total} mismatches)")
    return lines


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nbgrader": version("nbgrader"),
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", nargs="+", default=list(ASSIGNMENTS),
                        choices=list(ASSIGNMENTS), metavar="A",
                        help=f"assignments to grade (default: all of {' '.join(ASSIGNMENTS)})")
    parser.add_argument("--students", type=int, default=10,
                        help="submissions per assignment (default 10: every assignment, both "
                             "graders, in about 20 minutes on 2 cores)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="our engine's --jobs (default: the CPU count, %(default)s)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work folder to keep (default: a temporary folder, of which only "
                             "results.json and the logs are kept)")
    parser.add_argument("--skip-nbgrader", action="store_true",
                        help="grade with our engine only (quick runs)")
    parser.add_argument("--run-all-cells", action="store_true",
                        help="our engine also runs the cells after each notebook's last test "
                             "cell, as nbgrader does (they cannot change a grade)")
    args = parser.parse_args(argv)
    if args.students < 1 or args.jobs < 1:
        parser.error("--students and --jobs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = grader_env()
    subreaper = become_subreaper()
    jobs_flag = engine_has_jobs(env)
    work = (args.keep.resolve() if args.keep
            else Path(tempfile.mkdtemp(prefix="grade-bench-")))
    work.mkdir(parents=True, exist_ok=True)

    info = machine()
    settings = {"assignments": args.assignments, "students": args.students, "jobs": args.jobs,
                "engine_accepts_jobs": jobs_flag, "keep": str(args.keep) if args.keep else None,
                "skip_nbgrader": args.skip_nbgrader, "run_all_cells": args.run_all_cells,
                "sample_interval_s": SAMPLE_INTERVAL_S,
                "subreaper": subreaper}
    print(f"Machine: {info['cpu_count']} CPUs ({info['usable_cpus']} usable), "
          f"{info['cpu_model'] or 'unknown CPU'}, {info['memory_gb']} GB, {info['platform']}")
    print(f"Python {info['python']} ({sys.executable}), nbgrader {info['nbgrader']}")
    jobs_note = "" if jobs_flag else " (engine has no --jobs yet: flag omitted)"
    print(f"Settings: --assignments {' '.join(args.assignments)} --students {args.students} "
          f"--jobs {args.jobs}{jobs_note}"
          f"{' --skip-nbgrader' if args.skip_nbgrader else ''}"
          f"{' --run-all-cells' if args.run_all_cells else ''}"
          f"{f' --keep {args.keep}' if args.keep else ''}")
    print(f"Work folder: {work}")

    # Warm the page cache so that whichever grader runs first does not pay for it alone.
    subprocess.run([sys.executable, "-c", "import torch, nbgrader.apps, nbclient"], env=env,
                   check=False, capture_output=True)

    start = time.perf_counter()
    results = [bench_assignment(a, args, work, env, jobs_flag) for a in args.assignments]
    elapsed = time.perf_counter() - start

    print("\nResults (wall s: the one grading command; cpu s: it and all its descendants;\n"
          "peak MB: peak summed RSS of its process tree)\n")
    print(table(results))
    print()
    print(profile_table(results))
    print()
    for line in score_lines(results, args.skip_nbgrader):
        print(line)

    failed = [f"{r.assignment} {name} exit {run.returncode}"
              for r in results for name, run in (("nbgrader", r.nbgrader), ("ours", r.ours))
              if run is not None and run.returncode]
    if failed:
        print("Commands that failed: " + "; ".join(failed))
    report = {"machine": info, "settings": settings, "elapsed_s": elapsed,
              "assignments": [asdict(r) for r in results]}
    results_path = work / "results.json"
    results_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        for r in results:
            for bulky in ("submissions", "nbgrader_course", "ours"):
                shutil.rmtree(work / r.assignment / bulky, ignore_errors=True)
    print(f"\nResults: {results_path}  (benchmark took {elapsed / 60:.1f} min)")
    mismatched = any(r.mismatches or r.unexpected for r in results)
    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
