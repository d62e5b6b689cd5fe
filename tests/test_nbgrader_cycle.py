"""nbgrader's whole cycle on one machine, with nbgrader's own commands and the course's exchange.

Release, fetch, submit (two students: one with full marks, one partly wrong), collect, grade with
``python -m autograder grade`` from ``submitted/`` into the course's gradebook, a manual grade
for the written answer, ``generate_feedback``, ``release_feedback``, ``fetch_feedback`` and
``export``. Each step's files are checked, and no file a student receives holds a hidden test.

It runs in a copy of the course's own files (config, sources, releases) in a temporary folder,
so the repository's exchange and gradebook are never touched.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from autograder import notebooks
from autograder.course import course_folders, load_config
from autograder.demo import SAMPLE_CLASSES, build_submission

pytestmark = pytest.mark.slow

ASSIGNMENT = "a02_batch_momentum"
FULL, PARTLY = "alice", "erin"  # erin's momentum_step puts lr inside the velocity
COURSE_ID = "why-wont-it-train"
#: Text that only the instructor's versions hold.
HIDDEN = ("BEGIN HIDDEN TESTS", "run_hidden", "autograder.checks", "BEGIN SOLUTION")
BIN = Path(sys.executable).parent


def _run(*args: str, cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("COURSE_ROOT", None)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{output[-3000:]}"
    return output


def nbgrader(*args: str, cwd: Path) -> str:
    return _run(str(BIN / "nbgrader"), *args, cwd=cwd)


def _assert_nothing_hidden(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for marker in HIDDEN:
                assert marker not in text, f"{path} holds {marker!r}"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """The course's own files in a fresh folder: configuration, sources and releases."""
    root = tmp_path_factory.mktemp("course")
    for name in ("nbgrader_config.py", "student/nbgrader_config.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    for folder in ("source", "notebooks"):
        shutil.copytree(ROOT / folder / ASSIGNMENT, root / folder / ASSIGNMENT)
    return root


@pytest.fixture(scope="module")
def cycle(course, tmp_path_factory) -> dict[str, Path]:
    """Runs the cycle up to the students' fetched feedback; returns each student's folder."""
    nbgrader("release_assignment", ASSIGNMENT, cwd=course)
    by_id = {s.student_id: s for s in SAMPLE_CLASSES[ASSIGNMENT]}
    answers = tmp_path_factory.mktemp("answers")
    folders = {}
    for student_id in (FULL, PARTLY):
        # Each student works in a folder of their own (on one machine: student/ for everyone).
        folder = course / "student" / student_id
        folder.mkdir()
        where = (f"--Exchange.assignment_dir={folder}", f"--Exchange.cache={folder}/.cache")
        assert f"{COURSE_ID} {ASSIGNMENT}" in nbgrader("list", *where, cwd=course / "student")
        nbgrader("fetch_assignment", ASSIGNMENT, *where, cwd=course / "student")
        written = build_submission(course, ASSIGNMENT, by_id[student_id], answers)
        for notebook in written.glob("*.ipynb"):  # the student's edits, saved in JupyterLab
            nb = notebooks.read(notebook)
            for cell in nb.cells:
                if notebooks.is_written_answer(cell):
                    cell.source = f"{student_id}'s answer: momentum smooths the noisy curve."
            notebooks.write(nb, folder / ASSIGNMENT / notebook.name)
        nbgrader("submit", ASSIGNMENT, f"--student={student_id}", *where, cwd=course / "student")
        folders[student_id] = folder
    nbgrader("collect", ASSIGNMENT, cwd=course)
    _run(sys.executable, "-m", "autograder", "grade", ASSIGNMENT, cwd=course)
    return folders


def _notebook_names() -> list[str]:
    return sorted(p.name for p in (ROOT / "notebooks" / ASSIGNMENT).glob("*.ipynb"))


def test_the_exchange_is_course_local_and_created_on_demand(course):
    config = load_config(course)
    assert Path(config.Exchange.root) == course / "exchange"
    assert (course / "exchange").is_dir()  # made when nbgrader loaded the configuration
    assert Path(config.Exchange.assignment_dir) == course / "student"
    ignored = (ROOT / ".gitignore").read_text().split()
    assert {"/exchange/", "/student/*", "/submitted/", "/autograded/", "/feedback/"} <= set(ignored)


def test_release_fetch_submit_collect(course, cycle):
    outbound = course / "exchange" / COURSE_ID / "outbound" / ASSIGNMENT
    assert sorted(p.name for p in outbound.glob("*.ipynb")) == _notebook_names()
    _assert_nothing_hidden(outbound)
    for student_id, folder in cycle.items():
        assert sorted(p.name for p in (folder / ASSIGNMENT).glob("*.ipynb")) == _notebook_names()
        inbound = list((course / "exchange" / COURSE_ID / "inbound").glob(
            f"{student_id}+{ASSIGNMENT}+*"))
        assert len(inbound) == 1
        submitted = course / "submitted" / student_id / ASSIGNMENT
        for name in _notebook_names():
            assert (submitted / name).read_bytes() == (folder / ASSIGNMENT / name).read_bytes()
        assert (submitted / "timestamp.txt").is_file()


def _gradebook(course):
    from nbgrader.api import Gradebook

    return Gradebook(course_folders(course).db_url, course_id=COURSE_ID)


def test_grades_reach_the_course_gradebook_and_the_autograded_folder(course, cycle):
    with open(course / "grading" / ASSIGNMENT / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    with _gradebook(course) as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        auto_max = sum(n.max_code_score for n in assignment.notebooks)
        scores = {s: gb.find_submission(ASSIGNMENT, s) for s in cycle}
        full, partly = scores[FULL], scores[PARTLY]
        assert full.code_score == auto_max > partly.code_score > 0
        for student_id, submission in scores.items():
            assert submission.code_score == pytest.approx(float(rows[student_id]["score"]))
            assert submission.needs_manual_grade  # the written answer awaits the instructor
    for student_id in cycle:
        graded = course / "autograded" / student_id / ASSIGNMENT
        assert sorted(p.name for p in graded.glob("*.ipynb")) == _notebook_names()
        assert (graded / "submission_secret.txt").is_file()  # release_feedback needs it
        _assert_nothing_hidden(graded)


@pytest.fixture(scope="module")
def feedback(course, cycle) -> dict[str, list[Path]]:
    """The instructor grades the written answers (as in Formgrader), then sends feedback."""
    written = {grade_id: Path(name).stem for name in _notebook_names()
               for grade_id, _ in notebooks.written_answers(
                   notebooks.read(course / "source" / ASSIGNMENT / name))}
    assert written, "the assignment has a written answer"
    with _gradebook(course) as gb:
        for student_id, manual in ((FULL, 2.0), (PARTLY, 1.0)):
            for grade_id, notebook in written.items():
                grade = gb.find_grade(grade_id, notebook, ASSIGNMENT, student_id)
                grade.manual_score = manual  # what Formgrader's grade API does on a save
                grade.needs_manual_grade = False
            gb.db.commit()
    nbgrader("generate_feedback", ASSIGNMENT, cwd=course)
    nbgrader("release_feedback", ASSIGNMENT, cwd=course)
    fetched = {}
    for student_id, folder in cycle.items():
        nbgrader("fetch_feedback", ASSIGNMENT, f"--student={student_id}",
                 f"--Exchange.assignment_dir={folder}", f"--Exchange.cache={folder}/.cache",
                 cwd=course / "student")
        fetched[student_id] = sorted((folder / ASSIGNMENT / "feedback").glob("*/*.html"))
    return fetched


def test_manual_grades_add_to_the_total(course, cycle, feedback):
    with _gradebook(course) as gb:
        for student_id, manual in ((FULL, 2.0), (PARTLY, 1.0)):
            submission = gb.find_submission(ASSIGNMENT, student_id)
            assert not submission.needs_manual_grade
            assert submission.score == pytest.approx(submission.code_score + manual)
            assert submission.written_score == pytest.approx(manual)


def test_each_student_fetches_feedback_without_hidden_tests(course, cycle, feedback):
    with _gradebook(course) as gb:
        totals = {s: gb.find_submission(ASSIGNMENT, s) for s in cycle}
        totals = {s: (sub.score, sub.max_score) for s, sub in totals.items()}
    for student_id, pages in feedback.items():
        assert sorted(p.name for p in pages) == [n.replace(".ipynb", ".html")
                                                 for n in _notebook_names()]
        text = "".join(p.read_text() for p in pages)
        score, max_score = totals[student_id]
        assert f"(Score: {score:.1f} / {max_score:.1f})" in text  # nbgrader's header
        _assert_nothing_hidden(cycle[student_id] / ASSIGNMENT / "feedback")
    # Why a test failed is in the feedback (the grader's message, with no expected value).
    page = "".join(p.read_text() for p in feedback[PARTLY])
    assert re.search(r"failed: .*momentum_step|momentum_step.*failed", html.unescape(page))
    released = course / "exchange" / COURSE_ID / "feedback"
    assert len(list(released.glob("*.html"))) == len(cycle) * len(_notebook_names())


def test_export_gives_the_class_grades_as_csv(course, cycle, feedback):
    nbgrader("export", "--to=export.csv", cwd=course)
    with open(course / "export.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == ASSIGNMENT}
    assert set(rows) == set(cycle)
    with _gradebook(course) as gb:
        for student_id, row in rows.items():
            assert float(row["score"]) == pytest.approx(
                gb.find_submission(ASSIGNMENT, student_id).score)
