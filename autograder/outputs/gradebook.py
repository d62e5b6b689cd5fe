"""Recording grades in nbgrader's gradebook, so that formgrader and ``nbgrader export`` work.

The grader hands nbgrader a notebook that is already executed and restored
(:func:`graded_notebook`): each test cell carries an error output exactly when its test did not
pass, and nbgrader's own autograde converter, reduced to ``SaveAutoGrades`` and
``AssignLatePenalties``, records it. The scores are computed once, by the grader:
:meth:`Gradebook.record` reads back what nbgrader stored and refuses a disagreement.

Written answers are appended to that notebook as the student wrote them, under the released
cell's metadata: nbgrader then stores each one as a grade with no automatic score and
``needs_manual_grade`` set (an unchanged placeholder gets 0, as in ``nbgrader autograde``), and
the instructor grades it in formgrader. ``record`` checks that nbgrader agrees on which written
answers await a manual grade.
"""

from __future__ import annotations

import shutil
import stat
import warnings
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from autograder import notebooks
from autograder.engine.messages import StepDone
from autograder.engine.rebuild import Rebuilt
from autograder.outputs import results
from autograder.outputs.results import StudentResult, TestOutcome

#: What ``nbgrader submit`` writes beside the notebooks: the submission time (for late
#: penalties) and the secret that ``release_feedback`` needs to address the student's feedback.
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


def _copy_small_file(source: Path, target: Path, limit: int = 4096) -> None:
    """Copy ``source`` if it is a plain file of at most ``limit`` bytes (never through a link)."""
    try:
        info = source.lstat()
    except OSError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_size <= limit:
        target.write_bytes(source.read_bytes())


class GradebookError(RuntimeError):
    """nbgrader could not record a student, or recorded another score than the grader's."""


def graded_notebook(source: NotebookNode, rebuilt: Rebuilt, outcome,
                     by_id: dict[str, TestOutcome]) -> NotebookNode:
    """What nbgrader records: the executed steps, failing tests with an error output, then the
    written answers. ``source`` gives the test cells and the cells' metadata: pass the released
    notebook, whose test cells hold no hidden tests."""
    meta = {notebooks.nbgrader_meta(c).get("grade_id"): c for c in source.cells
            if notebooks.nbgrader_meta(c).get("grade_id")}
    done = {m.index: m for m in (outcome.messages if outcome else [])
            if isinstance(m, StepDone)}
    nb = nbformat.v4.new_notebook(metadata=source.metadata)
    seen: set[str] = set()
    for index, step in enumerate(rebuilt.steps):
        record = done.get(index, StepDone(index))
        if step.kind == "test":
            cell = nbformat.from_dict(dict(meta[step.test.grade_id]))
            cell = nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)
            test = by_id.get(step.test.grade_id)
            if test and test.status != results.PASSED:
                # The traceback is what nbgrader's feedback shows: the student-safe message.
                cell.outputs = [nbformat.v4.new_output(
                    "error", ename=test.status, evalue=test.message,
                    traceback=[f"{test.status}: {test.message}"])]
            nb.cells.append(cell)
            continue
        grade_id = step.origin.split(":", 1)[1] if ":" in step.origin else ""
        cell = nbformat.v4.new_code_cell(step.source)
        if grade_id and grade_id not in seen and grade_id in meta:
            cell.metadata = dict(meta[grade_id].metadata)
            seen.add(grade_id)
        if record.output:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                                       text=record.output))
        if record.error:
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename=record.error.ename, evalue=record.error.message, traceback=[]))
        nb.cells.append(cell)
    nb.cells += [nbformat.from_dict(written.cell) for written in rebuilt.written]
    return nb



class Gradebook:
    """One assignment's gradebook, written through nbgrader's API.

    Args:
        api: An :class:`nbgrader.apps.NbGraderAPI` whose submitted folder is ``work/submitted``.
        assignment: The assignment's name.
        work: nbgrader's work folder.
    """

    def __init__(self, api: Any, assignment: str, work: Path) -> None:
        self.api, self.assignment, self.work = api, assignment, work

    def add_student(self, student_id: str) -> None:
        with self.api.gradebook as gb:
            gb.update_or_create_student(student_id)

    def record(self, result: StudentResult, submission: Path, released: dict[str, NotebookNode],
               rebuilt: dict[str, Rebuilt], outcomes: dict[str, Any]) -> None:
        """Record one student's graded notebooks.

        The graded notebooks take their test cells from ``released`` (the student versions), so
        that ``nbgrader generate_feedback`` never shows a hidden test.

        Raises:
            GradebookError: nbgrader failed, or its total differs from ``result.score``.
        """
        staged = self.work / "submitted" / result.student_id / self.assignment
        if staged.exists():
            shutil.rmtree(staged)
        staged.mkdir(parents=True)
        for name in EXCHANGE_FILES:
            _copy_small_file(submission / name, staged / name)
        by_id = {t.grade_id: t for t in result.tests}
        for name, steps in rebuilt.items():
            nb = graded_notebook(released[name], steps, outcomes.get(name), by_id)
            notebooks.write(nb, staged / f"{name}.ipynb")
        if not rebuilt:
            self.add_student(result.student_id)
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy notes from inside nbgrader
            run = self.api.autograde(self.assignment, result.student_id, force=True,
                                     create=True)
        if not run["success"]:
            raise GradebookError("could not save the grades in the gradebook: "
                                 + str(run.get("error") or run.get("log"))[-300:])
        expected = sum(t.points for t in result.tests
                       if t.notebook in rebuilt and t.status == results.PASSED)
        with self.api.gradebook as gb:  # automatic scores only: manual grades are the TA's
            submission = gb.find_submission(self.assignment, result.student_id)
            stored = sum(grade.auto_score or 0.0 for nb in submission.notebooks
                         for grade in nb.grades if grade.cell_type == "code")
            manual = {grade.name for nb in submission.notebooks if nb.name in rebuilt
                      for grade in nb.grades
                      if grade.cell_type == "markdown" and grade.auto_score is None}
        if abs(float(stored) - float(expected)) > 1e-9:
            raise GradebookError(f"the gradebook recorded {stored:g} points, the grader "
                                 f"computed {expected:g}")
        pending = {w.grade_id for w in result.written if w.status == results.AWAITS_MANUAL_GRADE}
        if manual != pending:
            raise GradebookError(f"the gradebook awaits manual grades for {sorted(manual)}, the "
                                 f"grader for {sorted(pending)}")
