"""``grade``: grade a whole class, in parallel sandboxes, with the verdicts decided here.

Submissions follow nbgrader's layout ``SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb``.
For each notebook:

1. :mod:`autograder.engine.rebuild` restores every locked and test cell from the source by grade
   id, keeps the student's answers and added cells, and finds edited cells and tampering in the
   code;
2. :mod:`autograder.engine.pool` runs it in a fresh sandboxed process
   (:mod:`autograder.engine.sandbox`), several at once, which returns data only;
3. :mod:`autograder.engine.verdict` compares that data with the expected values, in this process.

Written answers (markdown answer cells with points) are not graded here: their text goes to the
gradebook for the instructor, and every report gives their points as pending, apart from the
automatic score.

Every student's result is saved in nbgrader's gradebook (through nbgrader's own autograde
converter, so formgrader and ``nbgrader export`` work), in ``OUT/results/<student>.json`` (the
resume point: a rerun skips students whose submission, source and settings are unchanged) and in
the feedback. Then come ``grades.csv``, ``report.json``, the plots and ``summary.html``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from autograder import notebooks
from autograder.course import load_config, make_api, source_notebooks
from autograder.engine.rebuild import Rebuilt, Step, rebuild, test_plan
from autograder.outputs import reports, results
from autograder.outputs.gradebook import Gradebook, GradebookError
from autograder.outputs.profile import Profile
from autograder.outputs.results import ClassResult, StudentResult, TestOutcome, WrittenOutcome
from autograder.settings import GradeSettings

#: Bump when a change to the engine can change a grade or what it records: stored results are
#: then redone.
ENGINE_VERSION = "6"

_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")


@dataclass(frozen=True)
class TestSpec:
    """A graded cell (a test cell or a written answer) as the source notebook defines it."""

    grade_id: str
    notebook: str
    max_points: float


def test_specs(root: Path, assignment: str) -> list[TestSpec]:
    """The autograded test cells of an assignment, from its source notebooks, in order."""
    specs = []
    for path in source_notebooks(root, assignment):
        for cell in notebooks.test_cells(notebooks.read(path)):
            meta = notebooks.nbgrader_meta(cell)
            specs.append(TestSpec(meta["grade_id"], path.stem, float(meta.get("points", 0))))
    return specs


def written_specs(root: Path, assignment: str) -> list[TestSpec]:
    """The written answers (manually graded markdown cells) of an assignment, in order."""
    return [TestSpec(grade_id, path.stem, points) for path in source_notebooks(root, assignment)
            for grade_id, points in notebooks.written_answers(notebooks.read(path))]


def student_dirs(submissions: Path) -> list[Path]:
    """Student folders of a submissions directory, sorted; hidden folders are skipped."""
    return sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_submitted(path: Path) -> tuple[NotebookNode | None, str]:
    """The notebook, or ``None`` and why it is unreadable."""
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
        return nb, ""
    except Exception as exc:  # noqa: BLE001 - any failure to parse means unreadable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return None, f"not a valid notebook ({type(exc).__name__}: {first})"[:300]


class _Course:
    """The assignment as the grader sees it: sources, releases, plans, exercises."""

    def __init__(self, root: Path, assignment: str, release_dir: Path) -> None:
        self.assignment = assignment
        self.sources = {p.stem: notebooks.read(p) for p in source_notebooks(root, assignment)}
        if not self.sources:
            raise FileNotFoundError(f"no source notebooks in source/{assignment}")
        self.released = {name: notebooks.read(release_dir / f"{name}.ipynb")
                         for name in self.sources}
        self.specs = test_specs(root, assignment)
        self.written = written_specs(root, assignment)
        self.exercises: dict[str, Any] = {}
        import importlib

        for nb in self.sources.values():
            for cell in notebooks.test_cells(nb):
                plan = test_plan(cell)
                module = importlib.import_module(plan.module)
                for name, _ in plan.exercises:
                    self.exercises[f"{plan.module}.{name}"] = getattr(module, name)
        digest = hashlib.sha256()
        for name in sorted(self.sources):
            digest.update(nbformat.writes(self.sources[name]).encode())
        self.digest = digest.hexdigest()
        self.checks_digest = checks_digest()


def checks_digest() -> str:
    """A digest of the checks' code (``autograder/checks``): cases, oracles and comparisons."""
    import autograder.checks

    folder = Path(autograder.checks.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _fingerprint(course: _Course, settings: GradeSettings, folder: Path, recorded_in: str) -> str:
    """What a stored result depends on: the engine, the sources, the checks' code, the settings,
    the submission and where it was recorded (a result kept for another gradebook is recorded
    again)."""
    digest = hashlib.sha256()
    digest.update(f"{ENGINE_VERSION}|{course.digest}|{course.checks_digest}|"
                  f"{json.dumps(settings.grading_key())}|{recorded_in}".encode())
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _step_data(step: Step) -> dict[str, Any]:
    if step.kind == "code":
        return {"kind": "code", "source": step.source}
    plan = step.test
    return {"kind": "test", "test": {"grade_id": plan.grade_id, "module": plan.module,
                                     "exercises": [list(p) for p in plan.exercises]}}


class SandboxUnavailable(RuntimeError):
    """A sandbox could not start: the grading environment is broken, not the submission."""


@dataclass
class _Pending:
    """A student whose notebooks are being graded."""

    student: str
    folder: Path
    fingerprint: str
    rebuilt: dict[str, Rebuilt]
    problems: dict[str, tuple[str, str]]  # notebook -> (status, message)
    outcomes: dict[str, Any]  # notebook -> JobOutcome
    waiting: set[str]


class _Grader:
    def __init__(self, root: Path, assignment: str, submissions: Path, out: Path,
                 settings: GradeSettings, db_url: str | None, autograded: Path | None,
                 progress: Callable[[StudentResult], None] | None, profile: Profile) -> None:
        from autograder.engine.verdict import Judge

        self.root, self.assignment = root, assignment
        self.submissions, self.out, self.settings = submissions, out, settings
        self.progress, self.profile = progress, profile
        self.work = out / "nbgrader"
        self.results_dir = out / "results"
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.api = self._nbgrader(db_url, autograded)
        self.recorded_in = (f"{self.api.coursedir.db_url}|"
                            f"{self.api.coursedir.autograded_directory}")
        self.gradebook = Gradebook(self.api, assignment, self.work)
        created = self.api.generate_assignment(assignment, force=True, create=True)
        if not created["success"]:
            raise RuntimeError(f"could not record {assignment} in the gradebook:\n"
                               f"{created.get('error') or created.get('log')}")
        self.course = _Course(root, assignment, self.work / "release" / assignment)
        # The expected values depend on the cases (checks' code, hidden seed) only.
        expected_key = hashlib.sha256(f"{ENGINE_VERSION}|{self.course.checks_digest}|"
                                      f"{settings.hidden_seed}".encode()).hexdigest()
        self.judge = Judge(settings.hidden_seed, out / "expected.json", expected_key)
        self.isolation: dict[str, str] = {}

    def _nbgrader(self, db_url: str | None, autograded: Path | None):
        from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

        config = load_config(self.root)
        course = config.CourseDirectory
        course.submitted_directory = str(self.work / "submitted")
        course.autograded_directory = str(autograded or self.work / "autograded")
        course.feedback_directory = str(self.work / "feedback")
        course.release_directory = str(self.work / "release")
        course.db_url = db_url or f"sqlite:///{(self.out / 'gradebook.db').resolve()}"
        # The notebook handed to nbgrader is already executed and restored: nbgrader only
        # records its grades (and late penalties) in the gradebook.
        config.Autograde.sanitize_preprocessors = []
        config.Autograde.autograde_preprocessors = [SaveAutoGrades, AssignLatePenalties]
        return make_api(config)

    # -- preparing ------------------------------------------------------------------------

    def prepare(self, folder: Path) -> tuple[_Pending | None, StudentResult | None]:
        """A pending student with jobs, or a finished result (stored, missing, invalid)."""
        student = folder.name
        specs = self.course.specs
        if not _STUDENT_ID.match(student):
            return None, StudentResult(
                student, results.GRADING_ERROR, _zero(specs, results.MISSING, ""),
                "invalid student id (letters, digits, _ . @ + -)",
                written=_unanswered(self.course.written, results.MISSING))
        submission = folder / self.assignment
        fingerprint = _fingerprint(self.course, self.settings, submission, self.recorded_in)
        stored = self._stored(student, fingerprint)
        if stored is not None:
            return None, stored
        pending = _Pending(student, submission, fingerprint, {}, {}, {}, set())
        for name in self.course.sources:
            path = submission / f"{name}.ipynb"
            if not path.is_file():
                pending.problems[name] = (results.MISSING, f"{name}.ipynb was not submitted")
                continue
            nb, why = _read_submitted(path)
            if nb is None:
                pending.problems[name] = (results.UNREADABLE, why)
                continue
            pending.rebuilt[name] = rebuild(self.course.sources[name],
                                            self.course.released[name], nb,
                                            self.course.exercises)
            pending.waiting.add(name)
        return pending, None

    def jobs(self, pending: _Pending):
        from autograder.engine.pool import NotebookJob

        for name in sorted(pending.waiting):
            steps = pending.rebuilt[name].steps
            tests = [i for i, s in enumerate(steps) if s.kind == "test"]
            if tests and not self.settings.run_all_cells:
                steps = steps[:tests[-1] + 1]  # what follows cannot change a grade
            yield NotebookJob((pending.student, name), [_step_data(s) for s in steps],
                              pending.folder)

    # -- finishing ------------------------------------------------------------------------

    def finish(self, pending: _Pending) -> StudentResult:
        """The student's result, recorded.

        Raises:
            SandboxUnavailable: A sandbox could not start (before any of the student's code
                ran): the grader's failure, reported as such and not stored, so that the next
                run grades the student again.
        """
        from autograder.engine.messages import Fatal, Started

        for name, outcome in sorted(pending.outcomes.items()):
            fatal = next((m for m in outcome.messages if isinstance(m, Fatal)), None)
            if fatal and not any(isinstance(m, Started) for m in outcome.messages):
                raise SandboxUnavailable(f"the sandbox for {name} could not start "
                                         f"({outcome.worker or 'this machine'}): {fatal.message}")
        outcomes: list[TestOutcome] = []
        written: list[WrittenOutcome] = []
        notes: list[str] = []
        for name in self.course.sources:
            specs = [s for s in self.course.specs if s.notebook == name]
            if name in pending.problems:
                status, message = pending.problems[name]
                outcomes += _zero(specs, status, message)
                written += _unanswered([s for s in self.course.written if s.notebook == name],
                                       status)
                notes.append(message)
                continue
            answered = {w.grade_id: w.answered for w in pending.rebuilt[name].written}
            for spec in (s for s in self.course.written if s.notebook == name):
                if answered.get(spec.grade_id):
                    written.append(WrittenOutcome(spec.grade_id, name, spec.max_points,
                                                  results.AWAITS_MANUAL_GRADE))
                else:
                    written += _unanswered([spec], results.NO_ANSWER)
            with self.profile.phase("verdicts"):
                judged = self.judge.judge_notebook(pending.rebuilt[name],
                                                   pending.outcomes[name])
            worker = pending.outcomes[name].worker
            if worker:  # on a cluster each worker reports its own measures
                self.isolation.update({f"{measure} (worker {worker})": description
                                       for measure, description in judged.isolation.items()})
            elif judged.isolation:
                self.isolation = judged.isolation
            verdicts, run_notes = judged.verdicts, judged.notes
            notes += [f"{name}: {n}" for n in run_notes]
            for spec in specs:
                status, message = verdicts.get(spec.grade_id, (results.CRASHED, "not run"))
                points = spec.max_points if status == results.PASSED else 0.0
                outcomes.append(TestOutcome(spec.grade_id, name, points, spec.max_points,
                                            status, message))
        problems = {s for s, _ in pending.problems.values()}
        if len(pending.problems) == len(self.course.sources):
            status = results.MISSING if problems == {results.MISSING} else results.UNREADABLE
        else:
            status = results.GRADED
        result = StudentResult(pending.student, status, outcomes, "; ".join(notes)[:2000],
                               written=written)
        self._record(pending, result)
        return result

    def _record(self, pending: _Pending, result: StudentResult) -> None:
        """Gradebook, feedback, then the resume point (in that order)."""
        try:
            with self.profile.phase("gradebook"):
                self.gradebook.record(result, pending.folder, self.course.released,
                                      pending.rebuilt, pending.outcomes)
        except GradebookError as exc:
            result.status, result.message = results.GRADING_ERROR, str(exc)
        with self.profile.phase("feedback"):
            if self.settings.feedback:
                from autograder.outputs.feedback import write_feedback

                result.feedback = [write_feedback(result, self.assignment, self.out)]
            data = {"fingerprint": pending.fingerprint, "result": asdict(result)}
            target = self.results_dir / f"{pending.student}.json"
            temporary = target.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(temporary, target)
        self.profile.graded += 1

    def _stored(self, student: str, fingerprint: str) -> StudentResult | None:
        path = self.results_dir / f"{student}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["fingerprint"] != fingerprint:
                return None
            raw = data["result"]
            tests = [TestOutcome(**t) for t in raw.pop("tests")]
            written = [WrittenOutcome(**w) for w in raw.pop("written")]
            return StudentResult(**raw, tests=tests, written=written)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _zero(specs: list[TestSpec], status: str, message: str) -> list[TestOutcome]:
    return [TestOutcome(s.grade_id, s.notebook, 0.0, s.max_points, status, message)
            for s in specs]


def _unanswered(specs: list[TestSpec], status: str) -> list[WrittenOutcome]:
    """Written answers worth 0: left unanswered, or in a missing or unreadable notebook."""
    return [WrittenOutcome(s.grade_id, s.notebook, s.max_points, status, 0.0) for s in specs]


def grade(
    root: Path,
    assignment: str,
    submissions: Path,
    out: Path,
    settings: GradeSettings | None = None,
    db_url: str | None = None,
    autograded: Path | None = None,
    progress: Callable[[StudentResult], None] | None = None,
    profile: Profile | None = None,
) -> ClassResult:
    """Grade every student of ``submissions`` and write the reports to ``out``.

    Args:
        root: The course directory (its ``source/<assignment>`` defines the tests).
        assignment: Assignment name.
        submissions: ``<student_id>/<assignment>/<notebook>.ipynb`` folders.
        out: Output folder (created): reports, feedback, results, nbgrader's work files.
        settings: Limits and options (default: :class:`GradeSettings` defaults).
        db_url: Gradebook URL (default: ``OUT/gradebook.db``). Pass the course's gradebook to see
            the results in formgrader and ``nbgrader export``.
        autograded: Where nbgrader writes each student's graded notebooks (default:
            ``OUT/nbgrader/autograded``). Pass the course's ``autograded/`` folder, with the
            course's gradebook, for ``nbgrader generate_feedback``.
        progress: Called with each student's result as it is done.
        profile: Filled with where the run's time went, phase by phase (see
            :mod:`autograder.outputs.profile`).

    Returns:
        The class result (also written as ``grades.csv``, ``report.json``, plots, summary).
    """
    settings = settings or GradeSettings()
    root, submissions, out = Path(root).resolve(), Path(submissions).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    # Everything written in the output folder holds hidden tests or grades: instructor only.
    umask = os.umask(0o077)
    try:
        out.mkdir(parents=True, exist_ok=True)
        make_private(out)
        return _grade(root, assignment, submissions, out, settings, db_url,
                      Path(autograded).resolve() if autograded else None, progress,
                      profile if profile is not None else Profile())
    finally:
        os.umask(umask)
        if out.is_dir():
            make_private(out)


def make_private(folder: Path) -> None:
    """Modes 0700 for ``folder`` and the folders in it, 0600 for its files (no links followed)."""
    os.chmod(folder, 0o700)
    for path in folder.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, 0o700 if path.is_dir() else 0o600)


def _grading_error(student: str, specs: list[TestSpec], exc: BaseException) -> StudentResult:
    """A student whose submission made the grader itself fail: reported, never silently lost."""
    import traceback

    trace = "".join(traceback.format_exception(exc))[-3000:]
    return StudentResult(student, results.GRADING_ERROR, _zero(
        specs, results.CRASHED, "the grader failed on this submission (see report.json)"),
        f"grader error, please report: {trace}")


def _grade(root: Path, assignment: str, submissions: Path, out: Path, settings: GradeSettings,
           db_url: str | None, autograded: Path | None,
           progress: Callable[[StudentResult], None] | None, profile: Profile) -> ClassResult:
    from autograder.engine.pool import Pool, start_server

    started = time.perf_counter()
    if not settings.scheduler:
        start_server()  # warms up while the gradebook is prepared
    limits = {"cell_timeout": settings.cell_timeout, "memory_mb": settings.memory_mb,
              "cpu_seconds": settings.cpu_seconds, "max_processes": settings.max_processes,
              "max_output_kb": settings.max_output_kb, "max_file_mb": settings.max_file_mb,
              "submission_timeout": settings.submission_timeout}
    if settings.scheduler:  # connected before anything is written: a bad address fails here
        from autograder.engine.remote import ClusterPool

        pool = ClusterPool(settings.scheduler, limits, settings.sandbox_uid,
                           settings.hidden_seed)
    else:
        pool = Pool(limits, settings.jobs, settings.sandbox_uid, settings.hidden_seed)
    try:
        with profile.phase("setup"):
            grader = _Grader(root, assignment, submissions, out, settings, db_url, autograded,
                             progress, profile)
        return _grade_class(grader, pool, submissions, out, settings, progress, profile, started)
    finally:
        pool.close()


def _grade_class(grader: _Grader, pool: Any, submissions: Path, out: Path,
                 settings: GradeSettings, progress: Callable[[StudentResult], None] | None,
                 profile: Profile, started: float) -> ClassResult:
    assignment = grader.assignment
    finished: dict[str, StudentResult] = {}
    pending: dict[str, _Pending] = {}
    jobs = []
    for folder in student_dirs(submissions):
        try:
            with profile.phase("prepare"):
                waiting, result = grader.prepare(folder)
            if waiting is not None and not waiting.waiting:
                waiting, result = None, grader.finish(waiting)
        except Exception as exc:  # noqa: BLE001 - one submission must not end the class
            waiting, result = None, _grading_error(folder.name, grader.course.specs, exc)
        if result is not None:
            if result.status in (results.MISSING, results.GRADING_ERROR) and not result.feedback:
                if _STUDENT_ID.match(result.student_id):
                    grader.gradebook.add_student(result.student_id)
            finished[result.student_id] = result
            if progress:
                progress(result)
        else:
            pending[waiting.student] = waiting
            jobs += list(grader.jobs(waiting))

    # Verdicts, the gradebook and the feedback are done by one recorder thread, in the order
    # students finish, so that the pool's loop reads every sandbox's messages as they come.
    ready: queue.Queue[_Pending | None] = queue.Queue()

    def record_all() -> None:
        while (entry := ready.get()) is not None:
            try:
                result = grader.finish(entry)
            except Exception as exc:  # noqa: BLE001 - one submission must not end the class
                result = _grading_error(entry.student, grader.course.specs, exc)
            finished[entry.student] = result
            if progress:
                progress(result)

    def done(outcome) -> None:
        student, name = outcome.key
        profile.add(outcome.phases)
        entry = pending[student]
        entry.outcomes[name] = outcome
        entry.waiting.discard(name)
        if not entry.waiting:
            ready.put(entry)

    recorder = threading.Thread(target=record_all, name="recorder", daemon=True)
    recorder.start()
    try:
        pool.run(jobs, done)
    finally:
        ready.put(None)
        recorder.join()
        grader.judge.save()

    students = [finished[k] for k in sorted(finished)]
    isolation = grader.isolation or _stored_isolation(out)
    graded = ClassResult(assignment, students, [s.grade_id for s in grader.course.specs], out,
                         isolation=isolation, settings=settings.as_dict(),
                         written_ids=[s.grade_id for s in grader.course.written])
    with profile.phase("reports"):
        _write_reports(graded, settings)
    profile.wall = time.perf_counter() - started
    return graded


def _stored_isolation(out: Path) -> dict[str, str]:
    try:
        return dict(json.loads((out / "report.json").read_text())["isolation"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_reports(graded: ClassResult, settings: GradeSettings) -> None:
    reports.write_csv(graded, graded.out / "grades.csv")
    reports.write_json(graded, graded.out / "report.json")
    if settings.plots:
        from autograder.outputs.plots import write_plots
        from autograder.outputs.summary import write_summary

        write_summary(graded, graded.out, write_plots(graded, graded.out))
