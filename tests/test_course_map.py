"""The README's course map lists every assignment that exists, with its lecture and its points."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from autograder import notebooks
from autograder.course import assignments, source_notebooks, topic_lectures
from autograder.engine import rebuild


def _map_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Course map", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        found = re.search(r"`(a\d\d_\w+)`", line)
        if line.startswith("|") and found:
            rows[found.group(1)] = line
    return rows


def _points(assignment: str) -> dict[str, float]:
    """Exercise -> points of its test cells, over the assignment's notebooks, in order."""
    points: dict[str, float] = {}
    for path in source_notebooks(ROOT, assignment):
        for cell in notebooks.test_cells(notebooks.read(path)):
            plan = rebuild.test_plan(cell)
            name = plan.exercises[0][1]
            points[name] = points.get(name, 0) + plan.points
    return points


def _written(assignment: str) -> dict[str, float]:
    """Written answer (grade id) -> its points, over the assignment's notebooks, in order."""
    return {grade_id: points for path in source_notebooks(ROOT, assignment)
            for grade_id, points in notebooks.written_answers(notebooks.read(path))}


@pytest.mark.parametrize("assignment", assignments(ROOT))
def test_course_map_row(assignment):
    """The row names the assignment's lecture, every exercise with its points, and the total."""
    row = _map_rows().get(assignment)
    assert row, f"README's course map has no row for {assignment}"
    lectures = topic_lectures(ROOT, assignment)
    assert lectures, f"no lecture lectures/{assignment[1:3]}*_*.ipynb for {assignment}"
    for lecture in lectures:
        assert f"`lectures/{lecture.name}`" in row, f"{assignment}: {lecture.name} not in the map"
    points = _points(assignment)
    for name, value in points.items():
        assert f"`{name}` ({value:g})" in row, f"{assignment}: `{name}` ({value:g}) not in the map"
    written = _written(assignment)
    for name, value in written.items():
        assert f"written answer `{name}` ({value:g})" in row, (
            f"{assignment}: written answer `{name}` ({value:g}) not in the map")
    total = sum(points.values()) + sum(written.values())
    assert f": {total:g} points" in row
    assert "| available |" in row


@pytest.mark.parametrize("assignment", assignments(ROOT))
def test_written_answers_state_their_points(assignment):
    """A written answer's points are in the question above it and in the notebook's table."""
    for path in source_notebooks(ROOT, assignment):
        cells = notebooks.read(path).cells
        for index, cell in enumerate(cells):
            if not notebooks.is_written_answer(cell):
                continue
            meta = notebooks.nbgrader_meta(cell)
            grade_id, value = meta["grade_id"], float(meta["points"])
            assert "### BEGIN SOLUTION" in cell.source and "**Rubric" in cell.source, grade_id
            question = cells[index - 1].source
            assert f"{value:g} points, graded by your instructor" in question, grade_id
            if "| exercise | points |" in cells[0].source:
                assert re.search(rf"\| written answer `{grade_id}`[^|]*\| {value:g} \|",
                                 cells[0].source), f"{grade_id} not in the points table"


def test_topic_lectures_finds_a_topic_in_parts_and_nothing_else(tmp_path):
    (tmp_path / "lectures").mkdir()
    for name in ("00_notation", "03_z", "03a_x", "03b_y", "030_no", "13_other", "03a-no"):
        (tmp_path / "lectures" / f"{name}.ipynb").write_text("{}")
    assert [p.name for p in topic_lectures(tmp_path, "a03_adaptive_lr")] == [
        "03_z.ipynb", "03a_x.ipynb", "03b_y.ipynb"]
    assert [p.name for p in topic_lectures(tmp_path, "a13_x")] == ["13_other.ipynb"]
    assert topic_lectures(tmp_path, "not_an_assignment") == []
