"""nbgrader in ``make lab``: Formgrader lists every assignment on its first open, after a
release the student's Assignment List shows the course and the assignment, and the whole cycle
of an assignment with a written answer (a02_batch_momentum's ``sgd_curves``) works in the UI.

The student fetches and submits in the Assignment List (answers saved on disk, as JupyterLab
would); the instructor collects and grades with ``python -m autograder grade`` in a terminal;
in Formgrader's Manual Grading the written answer awaits a grade, the instructor types one, and
the submission's total adds it to the tests' points (the gradebook agrees); after
``generate_feedback`` and ``release_feedback`` the student's Fetch Feedback brings a page with
that total and the written answer's grade, and no hidden test.

The tests share the course's lab server, in this order (pytest keeps the file's order): each
builds on the one before it. Formgrader is opened (once, in a new browser context) before
anything is released.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from lab_pages import (
    assignment_row,
    formgrader_frame,
    menu,
    open_assignment_list,
    open_lab,
    submission_times,
    submitted_notebook_row,
)

from autograder import notebooks

COURSE_ID = "why-wont-it-train"
RELEASED = "a02_batch_momentum"
NOTEBOOK = "batch_momentum.ipynb"
NOTEBOOK_ID = NOTEBOOK.removesuffix(".ipynb")
#: The exercises the student answers (with the model answers): not all, so the score is partial.
ANSWERED = ("sgd_step", "momentum_step")
#: The written answer (a markdown cell graded by hand), the student's text, the grade given.
WRITTEN = "sgd_curves"
WRITTEN_TEXT = "Momentum averages the noisy mini-batch gradients, so its curve is smoother."
WRITTEN_POINTS = 2.0
MANUAL = 2.0
MAX_SCORE = 17.0  # 15 points of tests, 2 of the written answer
#: Text that only the instructor's versions hold.
HIDDEN = ("BEGIN HIDDEN", "run_hidden", "autograder.checks", "BEGIN SOLUTION")
#: nbgrader's submission time, as the Assignment List shows it (and names the feedback folder).
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+")


def test_formgrader_lists_every_assignment_on_first_open(page, course_lab, shot) -> None:
    expected = sorted(p.name for p in (course_lab.root / "source").iterdir() if p.is_dir())
    open_lab(page, course_lab)
    menu(page, "Nbgrader", "Formgrader")
    frame = formgrader_frame(page)
    rows = frame.locator("table tbody tr")
    frame.get_by_role("link", name=expected[-1], exact=True).wait_for(timeout=60_000)
    names = sorted(name.strip() for name in rows.locator("td:first-child").all_inner_texts()
                   if re.fullmatch(r"a\d\d_\w+", name.strip()))
    assert names == expected
    shot(page, "formgrader", "all_assignments_listed")


def test_assignment_list_shows_course_and_released_assignment(page, course_lab, shot) -> None:
    _released(course_lab)
    open_lab(page, course_lab)
    menu(page, "Nbgrader", "Assignment List")
    released = page.locator("#released_assignments_list")
    released.get_by_text(RELEASED, exact=True).wait_for(timeout=60_000)
    assert COURSE_ID in released.inner_text()
    assert COURSE_ID in page.locator("#course_list_default").inner_text()
    shot(page, "assignment_list", "course_and_released_assignment")


def _run(lab, *args: str) -> str:
    """Run a command in the course copy, beside the server (its environment: nbgrader first)."""
    done = subprocess.run(args, cwd=lab.root, env=lab.env, capture_output=True, text=True,
                          timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{output[-3000:]}"
    return output


def _released(lab) -> None:
    """The instructor's release of the assignment (once; the test above does it first)."""
    if not (lab.root / "exchange" / COURSE_ID / "outbound" / RELEASED).is_dir():
        _run(lab, "nbgrader", "release_assignment", RELEASED)


def _answer(notebook: Path, source: Path, grade_ids: tuple[str, ...], text: str) -> None:
    """Write the model answers of ``grade_ids`` (solution markers removed) and ``text`` as the
    written answer into ``notebook``."""
    model = notebooks.answer_cells(notebooks.read(source))
    nb = notebooks.read(notebook)
    cells = notebooks.answer_cells(nb)
    for grade_id in grade_ids:
        cells[grade_id].source = notebooks.without_solution_markers(model[grade_id].source)
    written = [cell for cell in nb.cells if notebooks.is_written_answer(cell)]
    assert [notebooks.nbgrader_meta(cell)["grade_id"] for cell in written] == [WRITTEN]
    written[0].source = text
    notebooks.write(nb, notebook)


def _gradebook(lab):
    from nbgrader.api import Gradebook

    return Gradebook("sqlite:///" + str(lab.root / "gradebook.db"), course_id=COURSE_ID)


def _submission(lab) -> tuple[str, dict[str, float | bool]]:
    """The graded submission in the course copy's gradebook: its student and its scores."""
    submitted = lab.root / "submitted"
    assert submitted.is_dir(), "run after the student test (it submits and grades)"
    (student_id,) = [p.name for p in submitted.iterdir()]
    with _gradebook(lab) as gb:
        sub = gb.find_submission(RELEASED, student_id)
        grade = gb.find_grade(WRITTEN, NOTEBOOK_ID, RELEASED, student_id)
        return student_id, {"score": sub.score, "max_score": sub.max_score,
                            "code_score": sub.code_score, "written_score": sub.written_score,
                            "needs_manual_grade": sub.needs_manual_grade,
                            "written_manual": grade.manual_score,
                            "written_needs_manual": grade.needs_manual_grade}


def test_student_fetches_and_submits_then_the_instructor_grades(page, course_lab, shot) -> None:
    _released(course_lab)
    student = course_lab.root / "student" / RELEASED
    open_assignment_list(page, course_lab)
    released = page.locator("#released_assignments_list > .list_item")
    released.filter(has_text=RELEASED).get_by_role("button", name="Fetch", exact=True).click()
    fetched = assignment_row(page, "fetched", RELEASED)
    fetched.wait_for()
    notebook = student / NOTEBOOK
    assert notebook.is_file()
    fetched.get_by_role("button", name=RELEASED).click()  # unfold: its notebooks, Validate
    unfolded = fetched.locator(".collapse.in .nested_list_item")
    unfolded.get_by_role("link", name=NOTEBOOK_ID, exact=True).wait_for()
    shot(page, "student", "fetched")

    # The student's work, saved on disk (as JupyterLab would): two exercises and the written
    # answer.
    _answer(notebook, course_lab.root / "source" / RELEASED / NOTEBOOK, ANSWERED, WRITTEN_TEXT)
    fetched.get_by_role("button", name="Submit", exact=True).click()
    submitted = assignment_row(page, "submitted", RELEASED)
    submitted.wait_for()
    times = submission_times(submitted)
    assert len(times) == 1 and TIMESTAMP.fullmatch(times[0]), times
    shot(page, "student", "submitted")

    # The instructor, in a terminal: collect, then grade with the hidden tests.
    _run(course_lab, "nbgrader", "collect", RELEASED)
    (collected,) = (course_lab.root / "submitted").glob(f"*/{RELEASED}/{NOTEBOOK}")
    assert collected.read_bytes() == notebook.read_bytes()
    _run(course_lab, sys.executable, "-m", "autograder", "grade", RELEASED)
    _, scores = _submission(course_lab)
    assert scores["code_score"] > 0 and scores["max_score"] == MAX_SCORE, scores
    assert scores["score"] == scores["code_score"], scores
    assert scores["needs_manual_grade"] and scores["written_needs_manual"], scores


def test_formgrader_manual_grade_of_the_written_answer_adds_to_the_total(
        page, course_lab, shot) -> None:
    """Formgrader's Manual Grading: the written answer awaits a grade; the instructor types
    one in its score box, and the submission's total (and the gradebook's) adds it."""
    _, before = _submission(course_lab)
    assert before["needs_manual_grade"], "run after the student test, once"
    code = f"{before['code_score']:g} / {MAX_SCORE - WRITTEN_POINTS:g}"
    open_lab(page, course_lab)
    menu(page, "Nbgrader", "Formgrader")
    frame = formgrader_frame(page)
    frame.get_by_role("link", name="Manual Grading").click()
    frame.get_by_role("link", name=RELEASED, exact=True).click()
    frame.get_by_role("link", name=NOTEBOOK_ID, exact=True).click()
    row = submitted_notebook_row(frame, "Submission #1")
    assert row == {"score": f"{before['code_score']:g} / {MAX_SCORE:g}", "code": code,
                   "written": f"0 / {WRITTEN_POINTS:g}", "needs_manual_grade": True}, row
    shot(page, "formgrader", "written_answer_needs_grading")

    frame.get_by_role("link", name="Submission #1", exact=True).click()
    score = frame.locator(f"input.score#{WRITTEN}")
    frame.locator(f"input.score#{WRITTEN}.needs_manual_grade").wait_for()  # grades loaded
    cell = frame.locator(".nbgrader_cell").filter(has=score)
    assert WRITTEN_TEXT in cell.inner_text()  # the student's text, rendered
    assert score.input_value() == ""
    score.scroll_into_view_if_needed()
    shot(page, "formgrader", "written_answer_before_grading")
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                              and r.request.method == "PUT") as saved:
        score.fill(f"{MANUAL:g}")
        score.press("Tab")  # leaving the box saves it (its change event)
    assert saved.value.ok, saved.value.status
    frame.locator(f"input.score#{WRITTEN}:not(.needs_manual_grade)").wait_for()
    shot(page, "formgrader", "written_answer_graded")

    frame.get_by_role("link", name=NOTEBOOK_ID, exact=True).click()  # back: the submissions
    row = submitted_notebook_row(frame, "Submission #1")
    total = f"{before['code_score'] + MANUAL:g}"
    assert row == {"score": f"{total} / {MAX_SCORE:g}", "code": code,
                   "written": f"{MANUAL:g} / {WRITTEN_POINTS:g}", "needs_manual_grade": False}, row
    shot(page, "formgrader", "total_adds_the_manual_grade")

    _, after = _submission(course_lab)
    assert after["score"] == before["code_score"] + MANUAL, after
    assert after["written_score"] == after["written_manual"] == MANUAL, after
    assert not after["needs_manual_grade"] and not after["written_needs_manual"], after


def test_student_fetches_feedback_with_the_manual_grade(page, course_lab, shot) -> None:
    """After the manual grade: feedback by CLI, then Fetch Feedback in the Assignment List."""
    _, scores = _submission(course_lab)
    assert not scores["needs_manual_grade"], "run after the Formgrader test (manual grade)"
    _run(course_lab, "nbgrader", "generate_feedback", RELEASED)
    _run(course_lab, "nbgrader", "release_feedback", RELEASED)

    student = course_lab.root / "student" / RELEASED
    open_assignment_list(page, course_lab)
    submitted = assignment_row(page, "submitted", RELEASED)
    submitted.get_by_text("(feedback available to fetch)").wait_for()
    (timestamp,) = submission_times(submitted)
    submitted.get_by_role("button", name="Fetch Feedback", exact=True).click()
    view = submitted.get_by_text("(view feedback)")
    view.wait_for()
    html_file = student / "feedback" / timestamp / NOTEBOOK.replace(".ipynb", ".html")
    assert html_file.is_file(), sorted(map(str, student.rglob("*")))
    shot(page, "student", "feedback_fetched")

    view.click()  # the file browser shows the feedback's folder
    page.locator(".jp-DirListing-item").filter(has_text=html_file.name).wait_for()
    shot(page, "student", "feedback_in_file_browser")

    relative = html_file.relative_to(course_lab.root).as_posix()
    page.goto(course_lab.url("files/" + quote(relative)))
    text = page.locator("body").inner_text()
    total = scores["code_score"] + MANUAL
    assert f"{NOTEBOOK_ID} (Score: {total:.1f} / {MAX_SCORE:.1f})" in text, text[:2000]
    assert f"Written response (Score: {MANUAL:.1f} / {WRITTEN_POINTS:.1f})" in text, text[:2000]
    assert WRITTEN_TEXT in text
    for marker in HIDDEN:
        assert marker not in page.content(), marker
    shot(page, "student", "feedback_page")
    heading = page.locator(f'a[name="{WRITTEN}"] + .panel-heading')  # the written answer's
    assert f"Score: {MANUAL:.1f} / {WRITTEN_POINTS:.1f}" in heading.inner_text()
    heading.scroll_into_view_if_needed()
    shot(page, "student", "feedback_written_answer")
