"""Notebooks are committed clean, and notebooks/ is exactly what release makes of source/."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, ids, released_notebooks, source_notebooks, tracked_notebooks

from autograder import notebooks
from autograder.course import assignments


@pytest.mark.parametrize("path", tracked_notebooks(), ids=ids(tracked_notebooks()))
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts"


def test_every_assignment_is_released():
    released = {p.parent.name for p in released_notebooks()}
    assert set(assignments(ROOT)) == released
    assert {p.parent.name for p in source_notebooks()} == released


@pytest.mark.slow
def test_release_is_in_sync(tmp_path):
    from autograder.release import release

    fresh = release(ROOT, release_dir=tmp_path)
    committed = released_notebooks()
    assert sorted(p.relative_to(tmp_path) for p in fresh) == sorted(
        p.relative_to(ROOT / "notebooks") for p in committed)
    for path in fresh:
        ours = notebooks.read(ROOT / "notebooks" / path.relative_to(tmp_path))
        assert notebooks.read(path) == ours, (
            f"notebooks/{path.relative_to(tmp_path)} differs from what `make release` makes of "
            "source/: run `make release` and commit the result")


@pytest.mark.parametrize("path", released_notebooks(), ids=ids(released_notebooks()))
def test_release_has_no_solutions_or_hidden_tests(path):
    text = path.read_text(encoding="utf-8")
    for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "run_hidden("):
        assert marker not in text, f"{marker!r} leaked into the student version"
