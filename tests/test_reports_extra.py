"""Plots, the HTML summary, per-student feedback and the progress line (no notebooks run)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from autograder.outputs.feedback import STATUS_EXPLANATIONS, render_feedback, write_feedback
from autograder.outputs.plots import write_plots
from autograder.outputs.progress import Progress, format_duration
from autograder.outputs.results import (
    ERROR,
    FAILED,
    GRADED,
    MISSING,
    PASSED,
    TAMPERED,
    TEST_STATUSES,
    TIMEOUT,
    ClassResult,
    StudentResult,
)
from autograder.outputs.results import TestOutcome as Outcome  # not collected as a test class
from autograder.outputs.summary import write_summary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert(1)</script>"
TESTS = [("test_relu", "nb1", 2.0), ("test_loss", "nb1", 3.0), ("test_sgd", "nb2", 5.0)]


def student(sid: str, statuses: list[str], message: str = "", status: str = GRADED,
            test_message: str = "") -> StudentResult:
    tests = [Outcome(g, nb, mx if st == PASSED else 0.0, mx, st,
                         test_message if st != PASSED else "")
             for (g, nb, mx), st in zip(TESTS, statuses, strict=True)]
    return StudentResult(sid, status, tests, message)


def make_class(tmp_path: Path) -> ClassResult:
    students = [
        student("alice", [PASSED, PASSED, PASSED]),
        student("bob", [PASSED, FAILED, TIMEOUT], test_message="ran past 30 s\nline two"),
        student("carol", [MISSING] * 3, "no notebooks found", status=MISSING),
        student("dave", [PASSED, TAMPERED, ERROR], "test cell edited", test_message=EVIL),
        student(EVIL, [FAILED, PASSED, PASSED], test_message="a <b> & c"),
    ]
    return ClassResult("a01", sorted(students, key=lambda s: s.student_id),
                       [g for g, _, _ in TESTS], tmp_path,
                       isolation={"network": "off (new network namespace)"},
                       settings={"timeout": 30, "memory": "2G"})


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 5000


def test_plots_written(tmp_path: Path) -> None:
    paths = write_plots(make_class(tmp_path), tmp_path / "plots")
    assert set(paths) == {"distribution", "pass_rates"}
    assert paths["distribution"].name == "grade_distribution.png"
    assert paths["pass_rates"].name == "pass_rates.png"
    for path in paths.values():
        assert_png(path)


@pytest.mark.parametrize("students", [[], [StudentResult("zero", GRADED, [
    Outcome("test_relu", "nb1", 0.0, 0.0, PASSED)])]])
def test_empty_class_and_zero_max(tmp_path: Path, students: list[StudentResult]) -> None:
    result = ClassResult("empty", students, ["test_relu"] if students else [], tmp_path)
    plots = write_plots(result, tmp_path)
    for path in plots.values():
        assert path.read_bytes().startswith(PNG_MAGIC)
    page = write_summary(result, tmp_path, plots).read_text(encoding="utf-8")
    assert f"<p>{len(students)} students." in page
    assert page.count("data:image/png;base64,") == 2


def test_summary(tmp_path: Path) -> None:
    result = make_class(tmp_path)
    path = write_summary(result, tmp_path, write_plots(result, tmp_path))
    assert path == tmp_path / "summary.html"
    page = path.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &lt;b&gt; &amp; c" in page
    assert "<h1>a01</h1>" in page and "5 students" in page
    assert "network" in page and "off (new network namespace)" in page
    assert "timeout" in page and "2G" in page
    rows = dict(re.findall(r"<tr><td>(test_\w+)</td>(.*?)</tr>", page))
    assert list(rows) == result.test_ids
    for grade_id in result.test_ids:
        statuses = [next(t.status for t in s.tests if t.grade_id == grade_id)
                    for s in result.students]
        cells = re.findall(r'<td class="num">([^<]*)</td>', rows[grade_id])
        assert cells[1] == f"{statuses.count(PASSED) / len(statuses):.0%}"
        assert [int(c) for c in cells[2:]] == [statuses.count(s) for s in TEST_STATUSES]
    scores = sorted(s.score for s in result.students)
    assert f"median {scores[2]:.3g}" in page


def test_feedback(tmp_path: Path) -> None:
    result = make_class(tmp_path)
    for s in result.students:
        page = render_feedback(s, result.assignment)
        assert "<script" not in page
        for test in s.tests:
            assert test.grade_id in page
            assert f"{test.points:g}/{test.max_points:g}" in page
        assert f"{s.score:g} / {s.max_score:g}" in page
        assert all(status in page for status in STATUS_EXPLANATIONS)
    dave = next(s for s in result.students if s.student_id == "dave")
    page = render_feedback(dave, "a01")
    assert "test cell edited" in page and "&lt;script&gt;" in page
    relative = write_feedback(dave, "a01", tmp_path)
    assert relative == "feedback/dave/feedback.html"
    assert (tmp_path / relative).read_text(encoding="utf-8") == page
    with pytest.raises(ValueError):
        write_feedback(StudentResult("../x", GRADED), "a01", tmp_path)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_plain_lines() -> None:
    clock, stream = FakeClock(), io.StringIO()
    with Progress(100, stream=stream, clock=clock) as progress:
        for i in range(3):
            clock.now += 5 / 3
            progress.advance(f"student{i}")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("grading [1/100] 1% elapsed 0:02 ETA 2:45 student0")
    # 5 s for 3 items: 97 left at 5/3 s each.
    assert lines[2] == "grading [3/100] 3% elapsed 0:05 ETA 2:42 student2"


def test_progress_tty_redraws() -> None:
    clock, stream = FakeClock(), FakeTTY()
    progress = Progress(4, stream=stream, label="", clock=clock)
    assert "ETA --" in stream.getvalue()
    clock.now += 10
    progress.advance("x" * 300)
    progress.close()
    out = stream.getvalue()
    frames = out.rstrip("\n").split("\r")[1:]
    assert len(frames) == 2 and out.endswith("\n")
    assert frames[1].startswith("[#####...............] 1/4 25% elapsed 0:10 ETA 0:30 xxx")
    assert len(frames[1]) <= 100 and frames[1].endswith("...")


def test_format_duration() -> None:
    assert format_duration(0) == "0:00"
    assert format_duration(65) == "1:05"
    assert format_duration(3725) == "1:02:05"
