"""Source notebooks pass every test cell; released stubs fail every one."""

from __future__ import annotations

import pytest
from conftest import ids, released_notebooks, source_notebooks

from autograder import notebooks
from autograder.notebooks import PASSED

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", source_notebooks(), ids=ids(source_notebooks()))
def test_source_notebook_passes_every_test(path, execute):
    nb = execute(path)
    results = notebooks.results(nb)
    assert results, "no autograded test cell"
    failing = [r for r in results if r.status != PASSED]
    assert not failing, failing
    errors = [(i, o.get("ename")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"cells raised: {errors}"


@pytest.mark.parametrize("path", released_notebooks(), ids=ids(released_notebooks()))
def test_stub_fails_every_test(path, execute):
    results = notebooks.results(execute(path))
    assert results, "no autograded test cell"
    passing = [r.grade_id for r in results if r.status == PASSED]
    assert not passing, f"test cells pass on the unanswered stub: {passing}"


@pytest.mark.parametrize("path", source_notebooks(), ids=ids(source_notebooks()))
def test_conventions(path):
    """Answer cells are named after the exercise; tests are test_<name>... with stated points."""
    nb = notebooks.read(path)
    answers = notebooks.answer_cells(nb)
    tests = notebooks.test_cells(nb)
    for cell in tests:
        meta = notebooks.nbgrader_meta(cell)
        grade_id, points = meta["grade_id"], meta["points"]
        assert any(grade_id.startswith(f"test_{name}") for name in answers), grade_id
        first = cell.source.splitlines()[0]
        assert first == f"# {grade_id}: {points:g} points", first
    for name, cell in answers.items():
        assert f"def {name}(" in cell.source or f"class {name}" in cell.source, name
        assert any(notebooks.nbgrader_meta(t)["grade_id"].startswith(f"test_{name}")
                   for t in tests), f"{name} has no test cell"
