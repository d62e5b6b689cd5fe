"""nbgrader in ``make lab``: Formgrader lists every assignment on its first open, after a
release the student's Assignment List shows the course and the assignment, and the student's
side of the cycle works in the Assignment List: Fetch, Submit, then (once the instructor has
collected, graded with ``python -m autograder grade`` and released feedback in a terminal)
Fetch Feedback; the graded submission and its score show in Formgrader's Manual Grading.

The tests share the course's lab server, in this order (pytest keeps the file's order):
Formgrader is opened (once, in a new browser context) before anything is released, and the
Formgrader check of the grades comes after the test that makes them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from lab_pages import assignment_row, menu, open_assignment_list, open_lab, submission_times

from autograder import notebooks

COURSE_ID = "why-wont-it-train"
RELEASED = "a01_critical_points"
NOTEBOOK = "critical_points.ipynb"
#: The exercises the student answers (with the model answers): not all, so the score is partial.
ANSWERED = ("numerical_gradient", "classify_critical_point")
#: Text that only the instructor's versions hold.
HIDDEN = ("BEGIN HIDDEN", "run_hidden", "autograder.checks", "BEGIN SOLUTION")
#: nbgrader's submission time, as the Assignment List shows it (and names the feedback folder).
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+")


def test_formgrader_lists_every_assignment_on_first_open(page, course_lab, shot) -> None:
    expected = sorted(p.name for p in (course_lab.root / "source").iterdir() if p.is_dir())
    open_lab(page, course_lab)
    menu(page, "Nbgrader", "Formgrader")
    frame = page.frame_locator("iframe").first
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


def _answer(notebook: Path, source: Path, grade_ids: tuple[str, ...]) -> None:
    """Write the model answers of ``grade_ids`` (solution markers removed) into ``notebook``."""
    model = notebooks.answer_cells(notebooks.read(source))
    nb = notebooks.read(notebook)
    cells = notebooks.answer_cells(nb)
    for grade_id in grade_ids:
        cells[grade_id].source = notebooks.without_solution_markers(model[grade_id].source)
    notebooks.write(nb, notebook)


def test_student_fetches_submits_and_fetches_feedback_in_the_assignment_list(
        page, course_lab, shot) -> None:
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
    unfolded.get_by_role("link", name=notebook.stem, exact=True).wait_for()
    shot(page, "student", "fetched")

    # The student's work, saved on disk (as JupyterLab would): two exercises answered.
    _answer(notebook, course_lab.root / "source" / RELEASED / NOTEBOOK, ANSWERED)
    fetched.get_by_role("button", name="Submit", exact=True).click()
    submitted = assignment_row(page, "submitted", RELEASED)
    submitted.wait_for()
    times = submission_times(submitted)
    assert len(times) == 1 and TIMESTAMP.fullmatch(times[0]), times
    shot(page, "student", "submitted")

    # The instructor, in a terminal: collect, grade with the hidden tests, release feedback.
    _run(course_lab, "nbgrader", "collect", RELEASED)
    (collected,) = (course_lab.root / "submitted").glob(f"*/{RELEASED}/{NOTEBOOK}")
    assert collected.read_bytes() == notebook.read_bytes()
    _run(course_lab, sys.executable, "-m", "autograder", "grade", RELEASED)
    _run(course_lab, "nbgrader", "generate_feedback", RELEASED)
    _run(course_lab, "nbgrader", "release_feedback", RELEASED)

    page.locator("#refresh_assignments_list").click()
    submitted = assignment_row(page, "submitted", RELEASED)
    submitted.get_by_text("(feedback available to fetch)").wait_for()
    submitted.get_by_role("button", name="Fetch Feedback", exact=True).click()
    view = submitted.get_by_text("(view feedback)")
    view.wait_for()
    html_file = student / "feedback" / times[0] / NOTEBOOK.replace(".ipynb", ".html")
    assert html_file.is_file(), sorted(map(str, student.rglob("*")))
    shot(page, "student", "feedback_fetched")

    view.click()  # the file browser shows the feedback's folder
    page.locator(".jp-DirListing-item").filter(has_text=html_file.name).wait_for()
    shot(page, "student", "feedback_in_file_browser")

    relative = html_file.relative_to(course_lab.root).as_posix()
    page.goto(course_lab.url("files/" + quote(relative)))
    text = page.locator("body").inner_text()
    score = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", text)
    assert score and float(score[1]) > 0 and score[2] == "25.0", text[:2000]
    for marker in HIDDEN:
        assert marker not in page.content(), marker
    shot(page, "student", "feedback_page")


def test_formgrader_shows_the_graded_submission(page, course_lab, shot) -> None:
    """After the test above graded the student's submission: Formgrader's Manual Grading."""
    from nbgrader.api import Gradebook

    submitted = course_lab.root / "submitted"
    assert submitted.is_dir(), "run after the test above (it submits and grades)"
    (student_id,) = [p.name for p in submitted.iterdir()]
    with Gradebook("sqlite:///" + str(course_lab.root / "gradebook.db")) as gb:
        submission = gb.find_submission(RELEASED, student_id)
        score, max_score = submission.score, submission.max_score
    assert score > 0 and max_score == 25.0
    open_lab(page, course_lab)
    menu(page, "Nbgrader", "Formgrader")
    frame = page.frame_locator("iframe").first
    frame.get_by_role("link", name="Manual Grading").click()
    frame.get_by_role("link", name=RELEASED, exact=True).click()
    notebook_id = NOTEBOOK.removesuffix(".ipynb")
    frame.get_by_role("link", name=notebook_id, exact=True).wait_for()
    shot(page, "formgrader", "assignment_notebooks")
    frame.get_by_role("link", name=notebook_id, exact=True).click()
    row = frame.locator("table tbody tr").filter(has_text="Submission #1")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert f"{score:g} / {max_score:g}" in [c.strip() for c in cells], cells
    shot(page, "formgrader", "graded_submission")
