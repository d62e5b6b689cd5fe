"""The instructor's one-page HTML summary of a graded class (``summary.html``)."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from autograder.outputs.plots import STATUS_COLORS, class_max_score, score_stats, tally_tests
from autograder.outputs.results import TEST_STATUSES, ClassResult, pending_note

PLOT_TITLES = {"distribution": "Grade distribution", "pass_rates": "Test outcomes"}

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; }
td.status { color: white; text-align: center; }
img { max-width: 100%; display: block; margin: 1em 0; }
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _status_cell(status: str, text: str, title: str = "") -> str:
    color = STATUS_COLORS.get(status, "#555")
    tip = f' title="{escape(title)}"' if title else ""
    return (f'<td class="status" style="background:{color}"{tip}>{escape(text)}</td>')


def _key_value_table(items: dict, header: tuple[str, str]) -> str:
    if not items:
        return "<p>(none recorded)</p>"
    rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>"
                   for k, v in items.items())
    return f"<table><tr><th>{header[0]}</th><th>{header[1]}</th></tr>{rows}</table>"


def render_summary(result: ClassResult, plots: dict[str, Path]) -> str:
    """The summary page as a string; see :func:`write_summary`."""
    tallies = tally_tests(result)
    top = class_max_score(result, tallies)
    mean, median = score_stats(result)
    n = len(result.students)
    title = escape(result.assignment)
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}: summary"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>{title}</h1>",
             f"<p>{n} students. Maximum score {top:g}. "
             + ("No scores." if mean is None else f"Mean score {mean:.3g}, median {median:.3g}"
                " (missing submissions count as 0).") + "</p>"]
    if result.written_ids:
        waiting = sum(1 for s in result.students if s.pending_points)
        parts.append(f"<p>Scores are the automatic tests'. Written answers "
                     f"({escape(', '.join(result.written_ids))}) are graded by hand in "
                     f"formgrader: {waiting} of {n} students have points awaiting manual "
                     "grading.</p>")

    for key, path in plots.items():
        if Path(path).exists():
            label = escape(PLOT_TITLES.get(key, key))
            parts.append(f"<h2>{label}</h2><img alt='{label}' src='{_data_uri(Path(path))}'>")

    parts.append("<h2>Tests</h2><table><tr><th>grade id</th><th>notebook</th><th>max points</th>"
                 "<th>pass rate</th>" + "".join(f"<th>{s}</th>" for s in TEST_STATUSES)
                 + "</tr>")
    for t in tallies:
        rate = "-" if t.pass_rate is None else f"{t.pass_rate:.0%}"
        counts = "".join(f'<td class="num">{t.counts.get(s, 0)}</td>' for s in TEST_STATUSES)
        parts.append(f"<tr><td>{escape(t.grade_id)}</td><td>{escape(t.notebook)}</td>"
                     f'<td class="num">{t.max_points:g}</td><td class="num">{rate}</td>'
                     f"{counts}</tr>")
    parts.append("</table>")

    short = [g.removeprefix("test_") for g in result.test_ids]
    parts.append("<h2>Students</h2><table><tr><th>student</th><th>score</th><th>status</th>"
                 + "".join(f"<th title='{escape(g)}'>{escape(s)}</th>"
                           for g, s in zip(result.test_ids, short, strict=True)) + "</tr>")
    for student in result.students:
        outcomes = {t.grade_id: t for t in student.tests}
        cells = []
        for grade_id in result.test_ids:
            test = outcomes.get(grade_id)
            if test is None:
                cells.append(_status_cell("missing", "missing", "no result for this test"))
            else:
                text = f"{test.status} {test.points:g}/{test.max_points:g}"
                cells.append(_status_cell(test.status, text, test.message))
        tip = f' title="{escape(student.message)}"' if student.message else ""
        note = pending_note(student)
        parts.append(f"<tr><td{tip}>{escape(student.student_id)}</td>"
                     f'<td class="num">{student.score:g}/{student.max_score:g}'
                     + (f"<br><small>{escape(note)}</small>" if note else "") + "</td>"
                     f"<td>{escape(student.status)}</td>{''.join(cells)}</tr>")
    parts.append("</table>")

    parts.append("<h2>Isolation</h2>"
                 + _key_value_table(result.isolation, ("measure", "in effect")))
    parts.append("<h2>Settings</h2>" + _key_value_table(result.settings, ("setting", "value")))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_summary(result: ClassResult, out: Path, plots: dict[str, Path]) -> Path:
    """Writes ``out/summary.html``: one self-contained page (plots embedded as data URIs).

    The page holds the class statistics, both plots, a per-test table, a per-student table with
    one coloured cell per test (the message as tooltip), the isolation measures and the
    settings. Every student-provided string is escaped.

    Args:
        result: The graded class.
        out: The output folder (created if needed).
        plots: What :func:`autograder.outputs.plots.write_plots` returned; missing files are
            skipped.

    Returns:
        Path: The written ``summary.html``.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / "summary.html"
    path.write_text(render_summary(result, plots), encoding="utf-8")
    return path
