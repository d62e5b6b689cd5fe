"""``grade`` end to end on a small class, broken submissions included."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import ROOT

from autograder.demo import SAMPLE_CLASSES, Student, build_submission
from autograder.grade import grade

pytestmark = pytest.mark.slow

ASSIGNMENT = "a01_critical_points"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    submissions = base / "submissions"
    by_id = {s.student_id: s for s in SAMPLE_CLASSES[ASSIGNMENT]}
    for student_id in ("alice", "carol", "dave", "mallory", "niaj", "olivia"):
        build_submission(ROOT, ASSIGNMENT, by_id[student_id], submissions)
    # A student folder without the assignment folder, and a hidden folder that is skipped.
    (submissions / "peggy" / "another_assignment").mkdir(parents=True)
    (submissions / ".DS_Store_dir").mkdir()
    result = grade(ROOT, ASSIGNMENT, submissions, base / "out", timeout=60, progress=None)
    return result, base / "out"


def _student(result, student_id):
    return next(s for s in result.students if s.student_id == student_id)


def test_every_student_gets_a_row(graded):
    result, _ = graded
    assert [s.student_id for s in result.students] == [
        "alice", "carol", "dave", "mallory", "niaj", "olivia", "peggy"]


def test_statuses_and_scores(graded):
    result, _ = graded
    expected = {"alice": ("graded", 25), "carol": ("graded", 0), "dave": ("graded", 15),
                "mallory": ("unreadable", 0), "niaj": ("crashed", 0), "olivia": ("missing", 0),
                "peggy": ("missing", 0)}
    got = {s.student_id: (s.status, s.score) for s in result.students}
    assert got == expected
    assert all(s.max_score == 25 for s in result.students)


def test_per_test_statuses(graded):
    result, _ = graded
    dave = {t.grade_id: t for t in _student(result, "dave").tests}
    assert dave["test_numerical_gradient"].status == "failed"
    assert dave["test_numerical_gradient"].message.startswith("CheckFailure: numerical_gradient")
    assert dave["test_classify_critical_point"].status == "passed"
    assert dave["test_find_critical_points"].status == "failed"  # uses his gradient
    carol = _student(result, "carol").tests
    assert {t.status for t in carol} == {"not attempted"}
    assert {t.status for t in _student(result, "niaj").tests} == {"crashed"}
    assert {t.status for t in _student(result, "mallory").tests} == {"unreadable"}
    assert "NotJSONError" in _student(result, "mallory").message


def test_grades_csv(graded):
    result, out = graded
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert list(rows[0])[:5] == ["student_id", "assignment", "score", "max_score", "status"]
    assert list(rows[0])[5:] == result.test_ids
    alice = next(r for r in rows if r["student_id"] == "alice")
    assert alice["score"] == "25" and alice["test_loss_hessian"] == "4"
    dave = next(r for r in rows if r["student_id"] == "dave")
    assert dave["test_numerical_gradient"] == "0" and dave["assignment"] == ASSIGNMENT


def test_report_json(graded):
    _, out = graded
    report = json.loads((out / "report.json").read_text())
    alice = next(s for s in report["students"] if s["student_id"] == "alice")
    first = alice["tests"][0]
    assert set(first) == {"grade_id", "notebook", "points", "max_points", "status", "message"}
    assert alice["score"] == 25


def test_feedback_without_hidden_tests(graded):
    _, out = graded
    html = (out / "feedback" / "alice" / "critical_points.html").read_text()
    assert "numerical_gradient" in html
    assert "BEGIN HIDDEN TESTS" not in html and "run_hidden" not in html


def test_gradebook_holds_the_scores(graded):
    from nbgrader.api import Gradebook

    _, out = graded
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_submission(ASSIGNMENT, "alice").score == 25
        assert gb.find_submission(ASSIGNMENT, "dave").score == 15
        assert {s.id for s in gb.students} >= {"alice", "carol", "dave", "mallory", "niaj"}


def test_regrading_is_idempotent(graded, tmp_path):
    """Grading the same folder again into the same output gives the same table."""
    result, out = graded
    submissions = tmp_path / "again"
    build_submission(ROOT, ASSIGNMENT, Student("alice"), submissions)
    again = grade(ROOT, ASSIGNMENT, submissions, out, progress=None)
    assert [(s.student_id, s.score) for s in again.students] == [("alice", 25.0)]


@pytest.mark.parametrize("assignment", sorted(SAMPLE_CLASSES))
def test_grade_every_assignment(assignment, tmp_path):
    """A complete solution earns every point and an unanswered stub none, on every assignment."""
    for student in (Student("full"), Student("stub", default="stub")):
        build_submission(ROOT, assignment, student, tmp_path / "submissions")
    result = grade(ROOT, assignment, tmp_path / "submissions", tmp_path / "out", progress=None,
                   feedback=False)
    scores = {s.student_id: (s.status, s.score, s.max_score) for s in result.students}
    total = scores["full"][2]
    assert total > 0
    assert scores == {"full": ("graded", total, total), "stub": ("graded", 0.0, total)}
