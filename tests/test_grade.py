"""``grade`` end to end on a small class, broken submissions included."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import ROOT

from autograder.course import assignments
from autograder.demo import SAMPLE_CLASSES, Student, build_submission
from autograder.grade import grade
from autograder.settings import GradeSettings

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
    result = grade(ROOT, ASSIGNMENT, submissions, base / "out", settings=GradeSettings(jobs=2))
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
                "mallory": ("unreadable", 0), "niaj": ("graded", 22), "olivia": ("missing", 0),
                "peggy": ("missing", 0)}
    got = {s.student_id: (s.status, s.score) for s in result.students}
    assert got == expected
    assert all(s.max_score == 25 for s in result.students)


def test_per_test_statuses(graded):
    result, _ = graded
    dave = {t.grade_id: t for t in _student(result, "dave").tests}
    assert dave["test_numerical_gradient"].status == "failed"
    assert dave["test_numerical_gradient"].message.startswith("numerical_gradient on case")
    assert "expected" in dave["test_numerical_gradient"].message  # a visible case: values shown
    assert dave["test_classify_critical_point"].status == "passed"
    assert dave["test_find_critical_points"].status == "failed"  # uses his gradient
    carol = _student(result, "carol").tests
    assert {t.status for t in carol} == {"not attempted"}
    assert all(t.message.startswith("not attempted") for t in carol)
    niaj = {t.grade_id: t.status for t in _student(result, "niaj").tests}  # os._exit at the end
    assert niaj.pop("test_escape_saddle") == "crashed" and set(niaj.values()) == {"passed"}
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
    html = (out / "feedback" / "alice" / "feedback.html").read_text()
    assert "numerical_gradient" in html
    assert "BEGIN HIDDEN TESTS" not in html and "run_hidden" not in html


def test_summary_and_plots(graded):
    _, out = graded
    assert (out / "grade_distribution.png").stat().st_size > 1000
    assert (out / "pass_rates.png").stat().st_size > 1000
    assert "data:image/png;base64," in (out / "summary.html").read_text()


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
    again = grade(ROOT, ASSIGNMENT, submissions, out)
    assert [(s.student_id, s.score) for s in again.students] == [("alice", 25.0)]


@pytest.mark.parametrize("assignment", assignments(ROOT))
def test_grade_every_assignment(assignment, tmp_path):
    """A complete solution earns every point and an unanswered stub none, on every assignment."""
    for student in (Student("full"), Student("stub", default="stub")):
        build_submission(ROOT, assignment, student, tmp_path / "submissions")
    result = grade(ROOT, assignment, tmp_path / "submissions", tmp_path / "out",
                   settings=GradeSettings(feedback=False, plots=False))
    scores = {s.student_id: (s.status, s.score, s.max_score) for s in result.students}
    total = scores["full"][2]
    assert total > 0
    assert scores == {"full": ("graded", total, total), "stub": ("graded", 0.0, total)}


def test_killed_grader_resumes_exactly(tmp_path):
    """SIGKILL the grader mid-class, run it again: same results as one uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from nbgrader.api import Gradebook

    assignment = "a02_batch_momentum"
    students = [Student(f"s{k}", default="stub" if k % 3 == 2 else "solution")
                for k in range(6)]
    for student in students:
        build_submission(ROOT, assignment, student, tmp_path / "submissions")
    command = [sys.executable, "-m", "autograder", "grade", assignment, "--submissions",
               str(tmp_path / "submissions"), "--jobs", "1", "--no-plots"]

    def into(folder):
        return [*command, "--out", str(folder), "--db", f"sqlite:///{folder / 'gradebook.db'}"]

    out = tmp_path / "out"
    first = subprocess.Popen(into(out), cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list((out / "results").glob("*.json"))) < 2:
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    done_before = {p.name: p.stat().st_mtime for p in (out / "results").glob("*.json")}
    assert 2 <= len(done_before) < len(students)

    subprocess.run(into(out), cwd=ROOT, check=True, capture_output=True)
    subprocess.run(into(tmp_path / "straight"), cwd=ROOT, check=True, capture_output=True)
    assert (out / "grades.csv").read_text() == (tmp_path / "straight" / "grades.csv").read_text()
    for name, mtime in done_before.items():  # finished students were not graded again
        assert (out / "results" / name).stat().st_mtime == mtime
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        submissions = gb.assignment_submissions(assignment)
        assert sorted(s.student_id for s in submissions) == [s.student_id for s in students]
        assert {s.student_id: s.score for s in submissions} == {
            s.student_id: (0.0 if s.default == "stub" else 15.0) for s in students}


def test_the_gradebook_cannot_disagree_with_the_grades(tmp_path, monkeypatch):
    """If nbgrader recorded another score than the grader computed, the student is flagged."""
    from autograder.outputs import gradebook

    real = gradebook.graded_notebook

    def without_errors(*args, **kwargs):  # a bug that would hand nbgrader full marks
        nb = real(*args, **kwargs)
        for cell in nb.cells:
            cell.outputs = [o for o in cell.get("outputs", []) if o.output_type != "error"]
        return nb

    monkeypatch.setattr(gradebook, "graded_notebook", without_errors)
    build_submission(ROOT, "a02_batch_momentum", Student("stub", default="stub"),
                     tmp_path / "submissions")
    result = grade(ROOT, "a02_batch_momentum", tmp_path / "submissions", tmp_path / "out",
                   settings=GradeSettings(jobs=1, feedback=False, plots=False))
    (stub,) = result.students
    assert stub.status == "grading error" and "gradebook recorded 15 points" in stub.message


def test_written_answers_await_manual_grading(tmp_path):
    """A written answer is carried into the gradebook for formgrader and reported as pending:
    never scored automatically, neither as 0 nor as full marks; an unanswered one is worth 0."""
    from nbgrader.api import Gradebook

    from autograder import notebooks
    from autograder.outputs.results import AWAITS_MANUAL_GRADE, NO_ANSWER

    assignment, answer_id = "a02_batch_momentum", "sgd_curves"
    text = "The batch of 32 makes eight times as many updates per epoch. MY-WRITTEN-ANSWER"
    for student in (Student("wrote"), Student("silent")):
        build_submission(ROOT, assignment, student, tmp_path / "submissions")
    path = tmp_path / "submissions" / "wrote" / assignment / "batch_momentum.ipynb"
    nb = notebooks.read(path)
    (cell,) = [c for c in nb.cells if notebooks.nbgrader_meta(c).get("grade_id") == answer_id]
    cell.source = text
    notebooks.write(nb, path)
    out = tmp_path / "out"
    result = grade(ROOT, assignment, tmp_path / "submissions", out,
                   settings=GradeSettings(jobs=1, plots=False))
    assert result.written_ids == [answer_id]
    wrote, silent = _student(result, "wrote"), _student(result, "silent")
    assert (wrote.score, wrote.max_score, silent.score) == (15, 15, 15)  # automatic tests only
    (pending,) = wrote.written
    assert (pending.status, pending.points, pending.max_points) == (AWAITS_MANUAL_GRADE, None, 2)
    assert wrote.pending_points == 2 and silent.pending_points == 0
    assert [(w.status, w.points) for w in silent.written] == [(NO_ANSWER, 0.0)]

    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert list(rows["wrote"])[-2:] == ["manual_pending", answer_id]
    assert rows["wrote"]["manual_pending"] == "2" and rows["wrote"]["score"] == "15"
    assert rows["wrote"][answer_id] == AWAITS_MANUAL_GRADE
    assert (rows["silent"]["manual_pending"], rows["silent"][answer_id]) == ("0", "0")
    report = {s["student_id"]: s for s in json.loads((out / "report.json").read_text())["students"]}
    assert report["wrote"]["manual_pending"] == 2
    assert report["wrote"]["written"][0]["points"] is None
    assert "2 points await manual grading" in (out / "feedback/wrote/feedback.html").read_text()

    # nbgrader holds the answer for formgrader: no automatic score, a manual grade needed.
    graded_nb = out / "nbgrader" / "autograded" / "wrote" / assignment / "batch_momentum.ipynb"
    assert "MY-WRITTEN-ANSWER" in graded_nb.read_text()
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        grade_of = {s: gb.find_grade(answer_id, "batch_momentum", assignment, s)
                    for s in ("wrote", "silent")}
        assert grade_of["wrote"].auto_score is None and grade_of["wrote"].needs_manual_grade
        assert grade_of["silent"].auto_score == 0 and not grade_of["silent"].needs_manual_grade
        assert gb.find_submission(assignment, "wrote").needs_manual_grade
