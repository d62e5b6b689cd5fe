"""What grading produces: per-test outcomes, per-student results and the class result.

These plain dataclasses are shared by the engine (:mod:`autograder.grade`) and every report
(``grades.csv``, ``report.json``, plots, the HTML summary and per-student feedback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wwit.checks.status import GRADED as GRADED_STATUSES
from wwit.checks.status import Status

#: Statuses of one test: the course's one vocabulary (:class:`wwit.checks.status.Status`, which
#: also carries each status's colour and its explanation for a student). Exactly one applies to
#: every test of every student.
PASSED = Status.PASSED  # every visible and hidden case matched
FAILED = Status.FAILED  # a wrong result
NOT_ATTEMPTED = Status.NOT_ATTEMPTED  # the stub's NotImplementedError
ERROR = Status.ERROR  # the student's code raised an exception
TIMEOUT = Status.TIMEOUT  # a cell or a case ran past its time limit, or the CPU-time limit
CRASHED = Status.CRASHED  # the process died (os._exit, segfault, killed) before the test finished
OUT_OF_MEMORY = Status.OUT_OF_MEMORY  # the memory cap was hit
TAMPERED = Status.TAMPERED  # the test cell was edited, or the code patched/called what it must not
MISSING = Status.MISSING  # the notebook (or the whole submission) is missing
UNREADABLE = Status.UNREADABLE  # the notebook is not a valid notebook file
TEST_STATUSES = GRADED_STATUSES

#: Statuses of a written answer (a markdown answer cell with points): the grader never scores
#: one. It carries the text into the gradebook, where the instructor grades it (formgrader), and
#: reports its points apart from the automatic score. A missing or unreadable notebook gives its
#: written answers the notebook's status (0 points).
AWAITS_MANUAL_GRADE = "awaits manual grading"  # answered: its points are the instructor's to give
NO_ANSWER = "no answer"  # the placeholder was left unchanged: 0 points, as nbgrader records it
WRITTEN_STATUSES = (AWAITS_MANUAL_GRADE, NO_ANSWER, MISSING, UNREADABLE)

#: Statuses of a whole submission.
GRADED = "graded"  # every notebook was graded (whatever the tests' statuses)
GRADING_ERROR = "grading error"  # the grader itself failed on this student (a bug: reported)
STUDENT_STATUSES = (GRADED, MISSING, UNREADABLE, GRADING_ERROR)


@dataclass
class TestOutcome:
    """One autograded test cell of one student.

    Attributes:
        grade_id: The test cell's nbgrader grade id (``test_<exercise>``).
        notebook: The notebook's name without ``.ipynb``.
        points: Points earned.
        max_points: Points the test is worth.
        status: One of :data:`TEST_STATUSES`.
        message: What went wrong, safe to show the student (never hidden expected values).
    """

    __test__ = False  # not a pytest test class

    grade_id: str
    notebook: str
    points: float
    max_points: float
    status: str
    message: str = ""


@dataclass
class WrittenOutcome:
    """One written answer of one student, graded by hand after the automatic run.

    Attributes:
        grade_id: The answer cell's nbgrader grade id.
        notebook: The notebook's name without ``.ipynb``.
        max_points: Points the answer is worth.
        status: One of :data:`WRITTEN_STATUSES`.
        points: ``None`` while it awaits manual grading, else the points it has (0 unanswered).
    """

    __test__ = False

    grade_id: str
    notebook: str
    max_points: float
    status: str
    points: float | None = None


@dataclass
class StudentResult:
    """Everything the reports say about one student.

    Attributes:
        student_id: The student's folder name.
        status: One of :data:`STUDENT_STATUSES`.
        tests: One outcome per test cell of the assignment, in notebook order.
        written: One outcome per written answer of the assignment, in notebook order.
        message: A note on the whole submission (missing notebooks, tampering found).
        feedback: Feedback files, relative to the output folder.
    """

    student_id: str
    status: str
    tests: list[TestOutcome] = field(default_factory=list)
    message: str = ""
    feedback: list[str] = field(default_factory=list)
    written: list[WrittenOutcome] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points earned on the automatic tests."""
        return float(sum(t.points for t in self.tests))

    @property
    def max_score(self) -> float:
        """Points of the automatic tests."""
        return float(sum(t.max_points for t in self.tests))

    @property
    def pending_points(self) -> float:
        """Points of the written answers that await manual grading."""
        return float(sum(w.max_points for w in self.written
                         if w.status == AWAITS_MANUAL_GRADE))

    @property
    def written_max(self) -> float:
        """Points of the written answers."""
        return float(sum(w.max_points for w in self.written))


@dataclass
class ClassResult:
    """The graded class.

    Attributes:
        assignment: The assignment's name.
        students: One result per student folder, sorted by student id.
        test_ids: Every test's grade id, in notebook order.
        out: The output folder.
        isolation: Each isolation measure and whether it was in effect (for example
            ``{"network": "off (new network namespace)"}``).
        settings: The grading settings used.
        written_ids: Every written answer's grade id, in notebook order.
    """

    assignment: str
    students: list[StudentResult]
    test_ids: list[str]
    out: Path
    isolation: dict[str, str] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)
    written_ids: list[str] = field(default_factory=list)


def pending_note(student: StudentResult) -> str:
    """``"2 points await manual grading"``, or ``""`` when no written answer does."""
    pending = student.pending_points
    if not pending:
        return ""
    return f"{pending:g} point{'' if pending == 1 else 's'} await manual grading"
