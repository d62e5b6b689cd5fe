"""``grade``: grade a whole class with nbgrader's pipeline, gradebook and hidden tests.

Submissions follow nbgrader's layout ``SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb``.
Each readable notebook is copied into a staging area under ``OUT`` and autograded by nbgrader
(test cells restored from the source, the notebook executed by :mod:`autograder.execute`,
scores saved in the gradebook; students are added automatically). One broken submission
(missing or unreadable notebook, a kernel that dies) gets its own status and never stops the
others. Results go to ``OUT/grades.csv``, ``OUT/report.json`` and ``OUT/feedback/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import notebooks, reports
from autograder.course import load_config, make_api, source_notebooks
from autograder.execute import EngineExecute, Executor, KernelExecutor

#: Statuses of a whole submission.
GRADED, MISSING, UNREADABLE, CRASHED, FAILED_TO_GRADE = (
    "graded", "missing", "unreadable", "crashed", "grading error")

_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")


@dataclass
class TestOutcome:
    """One test cell of one student: the points from the gradebook, the status from the run."""

    grade_id: str
    notebook: str
    points: float
    max_points: float
    status: str
    message: str = ""


@dataclass
class StudentResult:
    """Everything the reports say about one student."""

    student_id: str
    status: str
    tests: list[TestOutcome] = field(default_factory=list)
    message: str = ""
    feedback: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return float(sum(t.points for t in self.tests))

    @property
    def max_score(self) -> float:
        return float(sum(t.max_points for t in self.tests))


@dataclass
class ClassResult:
    """The graded class."""

    assignment: str
    students: list[StudentResult]
    test_ids: list[str]
    out: Path


@dataclass(frozen=True)
class TestSpec:
    """A test cell as the source notebook defines it."""

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


def _readable(path: Path) -> str:
    """Empty string when ``path`` is a valid notebook, else why it is not."""
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - any failure to parse means unreadable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{type(exc).__name__}: {first}"[:300]
    return ""


def _zero(specs: list[TestSpec], status: str, message: str) -> list[TestOutcome]:
    return [TestOutcome(s.grade_id, s.notebook, 0.0, s.max_points, status, message) for s in specs]


def _first_error(text: str) -> str:
    """The most telling line of nbgrader's error log."""
    for line in text.splitlines()[::-1]:
        if "DeadKernelError" in line or "Kernel died" in line:
            return line.strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "unknown error"


def _configure(root: Path, out: Path, db_url: str | None, timeout: int,
               executor_class: type[Executor]):
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades

    # nbgrader's own pipeline, with execution swapped for ours.
    pipeline = [EngineExecute if step is Execute else step
                for step in Autograde.class_traits()["autograde_preprocessors"].default()]
    work = out / "nbgrader"
    config = load_config(root)
    course = config.CourseDirectory
    course.submitted_directory = str(work / "submitted")
    course.autograded_directory = str(work / "autograded")
    course.feedback_directory = str(work / "feedback")
    course.release_directory = str(work / "release")
    course.db_url = db_url or f"sqlite:///{(out / 'gradebook.db').resolve()}"
    config.Autograde.autograde_preprocessors = pipeline
    config.EngineExecute.timeout = timeout
    config.EngineExecute.executor_class = executor_class
    config.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests,
                                             CSSHTMLHeaderPreprocessor]
    return config, work


def _stage(submission: Path, staged: Path, specs: list[TestSpec]) -> dict[str, str]:
    """Copy a submission into the staging area, leaving out unreadable notebooks.

    Returns:
        Notebook name -> problem (``missing`` or the parse error) for those left out.
    """
    problems: dict[str, str] = {}
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(submission, staged, symlinks=False,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for name in dict.fromkeys(s.notebook for s in specs):
        path = staged / f"{name}.ipynb"
        if not path.is_file():
            problems[name] = MISSING
            continue
        reason = _readable(path)
        if reason:
            problems[name] = reason
            path.unlink()
    return problems


def _collect(api, assignment: str, student: str, specs: list[TestSpec], work: Path,
             problems: dict[str, str]) -> list[TestOutcome]:
    """Scores from the gradebook, statuses from the autograded notebooks."""
    scores: dict[tuple[str, str], float] = {}
    with api.gradebook as gb:
        submission = gb.find_submission(assignment, student)
        for nb in submission.notebooks:
            for grade in nb.grades:
                scores[(nb.name, grade.name)] = float(grade.score or 0.0)
    statuses: dict[tuple[str, str], notebooks.TestResult] = {}
    for name in dict.fromkeys(s.notebook for s in specs):
        path = work / "autograded" / student / assignment / f"{name}.ipynb"
        if path.is_file():
            for result in notebooks.results(notebooks.read(path)):
                statuses[(name, result.grade_id)] = result
    outcomes = []
    for spec in specs:
        if spec.notebook in problems:
            problem = problems[spec.notebook]
            status = MISSING if problem == MISSING else UNREADABLE
            outcomes.append(TestOutcome(spec.grade_id, spec.notebook, 0.0, spec.max_points,
                                        status, "" if status == MISSING else problem))
            continue
        result = statuses.get((spec.notebook, spec.grade_id))
        status = result.status if result else MISSING
        message = result.message if result else "test cell not found in the graded notebook"
        outcomes.append(TestOutcome(spec.grade_id, spec.notebook,
                                    scores.get((spec.notebook, spec.grade_id), 0.0),
                                    spec.max_points, status, message))
    return outcomes


def _copy_feedback(work: Path, out: Path, assignment: str, student: str) -> list[str]:
    source = work / "feedback" / student / assignment
    target = out / "feedback" / student
    copied = []
    for html in sorted(source.glob("*.html")):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(html, target / html.name)
        copied.append(str((target / html.name).relative_to(out)))
    return copied


def student_dirs(submissions: Path) -> list[Path]:
    """Student folders of a submissions directory, sorted; hidden folders are skipped."""
    return sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))


def grade(
    root: Path,
    assignment: str,
    submissions: Path,
    out: Path,
    db_url: str | None = None,
    timeout: int = 60,
    executor_class: type[Executor] = KernelExecutor,
    feedback: bool = True,
    progress: Callable[[str], None] | None = print,
) -> ClassResult:
    """Grade every student of ``submissions`` and write the reports to ``out``.

    Args:
        root: The course directory (its ``source/<assignment>`` defines the tests).
        assignment: Assignment name.
        submissions: ``<student_id>/<assignment>/<notebook>.ipynb`` folders.
        out: Output folder (created); holds the reports, feedback and nbgrader's work files.
        db_url: Gradebook URL (default: ``OUT/gradebook.db``). Pass the course's gradebook to see
            the results in formgrader and ``nbgrader export``.
        timeout: Seconds allowed per cell.
        executor_class: How submissions are executed.
        feedback: Whether to write per-student feedback HTML.
        progress: Called with one line per student; ``None`` for silence.

    Returns:
        The class result (also written as ``grades.csv`` and ``report.json``).
    """
    root, submissions, out = Path(root).resolve(), Path(submissions).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    specs = test_specs(root, assignment)
    out.mkdir(parents=True, exist_ok=True)
    config, work = _configure(root, out, db_url, timeout, executor_class)
    api = make_api(config)
    created = api.generate_assignment(assignment, force=True, create=True)
    if not created["success"]:
        raise RuntimeError(f"could not record {assignment} in the gradebook:\n"
                           f"{created.get('error') or created.get('log')}")

    students: list[StudentResult] = []
    folders = student_dirs(submissions)
    for index, folder in enumerate(folders, 1):
        student = folder.name
        result = _grade_one(api, work, out, assignment, student, folder / assignment, specs,
                            feedback)
        students.append(result)
        if progress:
            progress(f"[{index}/{len(folders)}] {student}: {result.status}, "
                     f"{result.score:g}/{result.max_score:g}")
    graded = ClassResult(assignment, students, [s.grade_id for s in specs], out)
    reports.write_csv(graded, out / "grades.csv")
    reports.write_json(graded, out / "report.json")
    return graded


def _grade_one(api, work: Path, out: Path, assignment: str, student: str, submission: Path,
               specs: list[TestSpec], feedback: bool) -> StudentResult:
    if not _STUDENT_ID.match(student):
        return StudentResult(student, FAILED_TO_GRADE, _zero(specs, FAILED_TO_GRADE, ""),
                             "invalid student id (letters, digits, _ . @ + - only)")
    if not submission.is_dir():
        return StudentResult(student, MISSING, _zero(specs, MISSING, ""),
                             f"no {assignment}/ folder in the submission")
    staged = work / "submitted" / student / assignment
    problems = _stage(submission, staged, specs)
    with api.gradebook as gb:
        gb.update_or_create_student(student)
    if len(problems) == len({s.notebook for s in specs}):
        status = MISSING if all(p == MISSING for p in problems.values()) else UNREADABLE
        message = "; ".join(f"{nb}.ipynb: {p}" for nb, p in problems.items())
        outcomes = _zero(specs, status, "")
        for outcome in outcomes:
            if problems.get(outcome.notebook, MISSING) != MISSING:
                outcome.message = problems[outcome.notebook]
        return StudentResult(student, status, outcomes, message)

    run = api.autograde(assignment, student, force=True, create=True)
    if not run["success"]:
        log = f"{run.get('error', '')}\n{run.get('log', '')}"
        crashed = "DeadKernelError" in log or "Kernel died" in log
        status = CRASHED if crashed else FAILED_TO_GRADE
        message = "the kernel died while running the notebook" if crashed else _first_error(log)
        return StudentResult(student, status, _zero(specs, status, message), message)

    outcomes = _collect(api, assignment, student, specs, work, problems)
    status = GRADED if not problems else (MISSING if all(
        p == MISSING for p in problems.values()) else UNREADABLE)
    message = "; ".join(f"{nb}.ipynb: {p}" for nb, p in problems.items())
    result = StudentResult(student, status, outcomes, message)
    if feedback:
        made = api.generate_feedback(assignment, student, force=True)
        if made["success"]:
            result.feedback = _copy_feedback(work, out, assignment, student)
    return result
