"""The instructor's reports of a graded class: ``grades.csv``, ``report.json`` and a table.

``score`` and ``max_score`` are the automatic tests'. Written answers are reported apart: their
points awaiting manual grading (``manual_pending``), and per answer its points, or
:data:`~autograder.outputs.results.AWAITS_MANUAL_GRADE` while the instructor has not graded it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.outputs.results import AWAITS_MANUAL_GRADE, pending_note

if TYPE_CHECKING:
    from autograder.outputs.results import ClassResult, WrittenOutcome


def written_cell(answer: WrittenOutcome | None) -> str:
    """A written answer's points, :data:`AWAITS_MANUAL_GRADE` while pending, ``-`` if absent."""
    if answer is None:
        return "-"
    return AWAITS_MANUAL_GRADE if answer.points is None else f"{answer.points:g}"


def write_csv(result: ClassResult, path: Path) -> None:
    """One row per student: id, assignment, score, max_score (automatic tests), status, points
    per test; then, when the assignment has written answers, ``manual_pending`` (their points
    awaiting manual grading) and one column per written answer (see :func:`written_cell`)."""
    manual = ["manual_pending", *result.written_ids] if result.written_ids else []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "assignment", "score", "max_score", "status",
                         *result.test_ids, *manual])
        for student in result.students:
            points = {t.grade_id: t.points for t in student.tests}
            written = {w.grade_id: w for w in student.written}
            row = [student.student_id, result.assignment, f"{student.score:g}",
                   f"{student.max_score:g}", student.status,
                   *(f"{points.get(g, 0.0):g}" for g in result.test_ids)]
            if manual:
                row += [f"{student.pending_points:g}",
                        *(written_cell(written.get(g)) for g in result.written_ids)]
            writer.writerow(row)


def to_dict(result: ClassResult) -> dict:
    """The class result as plain data (what ``report.json`` holds)."""
    return {
        "assignment": result.assignment,
        "tests": result.test_ids,
        "written": result.written_ids,
        "isolation": result.isolation,
        "settings": result.settings,
        "students": [
            {
                "student_id": s.student_id,
                "status": s.status,
                "message": s.message,
                "score": s.score,
                "max_score": s.max_score,
                "manual_pending": s.pending_points,
                "feedback": s.feedback,
                "tests": [
                    {"grade_id": t.grade_id, "notebook": t.notebook, "points": t.points,
                     "max_points": t.max_points, "status": t.status, "message": t.message}
                    for t in s.tests
                ],
                "written": [
                    {"grade_id": w.grade_id, "notebook": w.notebook, "points": w.points,
                     "max_points": w.max_points, "status": w.status}
                    for w in s.written
                ],
            }
            for s in result.students
        ],
    }


def write_json(result: ClassResult, path: Path) -> None:
    """Per student and per test cell: points, max points, status, first line of the error."""
    path.write_text(json.dumps(to_dict(result), indent=2) + "\n", encoding="utf-8")


def format_table(result: ClassResult) -> str:
    """A plain-text grade table: one row per student, one column per test cell, then the
    points awaiting manual grading when the assignment has written answers."""
    short = [g.removeprefix("test_") for g in result.test_ids]
    widths = [max(len(s), 5) for s in short]
    id_width = max([len("student"), *(len(s.student_id) for s in result.students)])
    header = (f"{'student':<{id_width}}  {'score':>11}  {'status':<13}  "
              + "  ".join(f"{s:>{w}}" for s, w in zip(short, widths, strict=True)))
    lines = [header, "-" * len(header)]
    for student in result.students:
        points = {t.grade_id: t for t in student.tests}
        cells = []
        for grade_id, width in zip(result.test_ids, widths, strict=True):
            test = points.get(grade_id)
            cells.append(f"{(f'{test.points:g}/{test.max_points:g}' if test else '-'):>{width}}")
        score = f"{student.score:g}/{student.max_score:g}"
        note = pending_note(student)
        lines.append(f"{student.student_id:<{id_width}}  {score:>11}  {student.status:<13}  "
                     + "  ".join(cells) + (f"  ({note})" if note else ""))
    return "\n".join(lines)
