"""Per-student feedback pages (``feedback/<student_id>/feedback.html``)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from autograder.outputs.plots import STATUS_COLORS
from autograder.outputs.reports import written_cell
from autograder.outputs.results import AWAITS_MANUAL_GRADE, NO_ANSWER, StudentResult, pending_note
from wwit.checks.status import Status

#: What each status means, in plain words for a student.
STATUS_EXPLANATIONS = {str(status): status.explanation for status in Status}
#: What the statuses of a written answer mean.
WRITTEN_EXPLANATIONS = {
    AWAITS_MANUAL_GRADE: "your written answer was handed to your instructor, who grades it",
    NO_ANSWER: "the answer cell still holds its placeholder: no answer was given (0 points)",
}

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.status { color: white; white-space: nowrap; padding: 0 0.4em; }
.msg { white-space: pre-wrap; font-family: monospace; margin: 0; }
"""


def _badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#555")
    return f'<span class="status" style="background:{color}">{escape(status)}</span>'


def render_feedback(student: StudentResult, assignment: str) -> str:
    """One self-contained HTML feedback page for a student.

    Args:
        student: The student's result; only what it holds is shown.
        assignment: The assignment's name.

    Returns:
        str: The page.
    """
    title = escape(f"{assignment}: feedback for {student.student_id}")
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>{escape(assignment)}</h1>",
             f"<p>Student: {escape(student.student_id)}<br>"
             + ("Automatic tests" if student.written else "Total score")
             + f": <b>{student.score:g} / {student.max_score:g}</b>"
             + (f"<br>Written answers ({student.written_max:g} points, graded by your "
                f"instructor): {escape(pending_note(student) or 'none awaits grading')}"
                if student.written else "") + "</p>"]
    if student.message:
        parts.append(f"<p class='msg'>{escape(student.message)}</p>")
    parts.append("<table><tr><th>test</th><th>points</th><th>status</th><th>message</th></tr>")
    for test in student.tests:
        parts.append(f"<tr><td>{escape(test.grade_id)}</td>"
                     f"<td>{test.points:g}/{test.max_points:g}</td>"
                     f"<td>{_badge(test.status)}</td>"
                     f"<td><pre class='msg'>{escape(test.message)}</pre></td></tr>")
    parts.append("</table>")
    if student.written:
        parts.append("<h2>Written answers</h2><table><tr><th>answer</th><th>points</th>"
                     "<th>status</th></tr>")
        for answer in student.written:
            points = "-" if answer.points is None else written_cell(answer)
            parts.append(f"<tr><td>{escape(answer.grade_id)}</td>"
                         f"<td>{points}/{answer.max_points:g}</td>"
                         f"<td>{_badge(answer.status)}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>What the statuses mean</h2><ul>")
    parts += [f"<li>{_badge(s)} {escape(text)}</li>" for s, text in STATUS_EXPLANATIONS.items()]
    if student.written:
        parts += [f"<li>{_badge(s)} {escape(text)}</li>"
                  for s, text in WRITTEN_EXPLANATIONS.items()]
    parts.append("</ul></body></html>\n")
    return "\n".join(parts)


def write_feedback(student: StudentResult, assignment: str, out: Path) -> str:
    """Writes ``out/feedback/<student_id>/feedback.html``.

    Args:
        student: The student's result.
        assignment: The assignment's name.
        out: The output folder.

    Returns:
        str: The page's path relative to ``out`` (POSIX separators).

    Raises:
        ValueError: If the student id is not a plain folder name.
    """
    sid = student.student_id
    if not sid or sid in (".", "..") or "/" in sid or "\\" in sid:
        raise ValueError(f"not a plain folder name: {sid!r}")
    relative = Path("feedback", sid, "feedback.html")
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_feedback(student, assignment), encoding="utf-8")
    return relative.as_posix()
