"""The README's course map lists every assignment that exists, with its lecture and its points."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from autograder import notebooks
from autograder.course import assignments, source_notebooks
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


@pytest.mark.parametrize("assignment", assignments(ROOT))
def test_course_map_row(assignment):
    """The row names the assignment's lecture, every exercise with its points, and the total."""
    row = _map_rows().get(assignment)
    assert row, f"README's course map has no row for {assignment}"
    number = assignment[1:3]
    lectures = sorted(ROOT.glob(f"lectures/{number}_*.ipynb"))
    assert lectures, f"no lecture lectures/{number}_*.ipynb for {assignment}"
    assert f"`lectures/{lectures[0].name}`" in row
    points = _points(assignment)
    for name, value in points.items():
        assert f"`{name}` ({value:g})" in row, f"{assignment}: `{name}` ({value:g}) not in the map"
    assert f": {sum(points.values()):g} points" in row
    assert "| available |" in row
