"""Unit tests of autograder.notebooks (no kernel)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder import notebooks


def _test_cell(outputs, executed=True, grade_id="test_f", points=2):
    cell = new_code_cell("# test_f: 2 points", outputs=outputs,
                         execution_count=1 if executed else None)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": grade_id,
                                 "points": points}
    return cell


def _error(ename, evalue="something\nsecond line"):
    return new_output("error", ename=ename, evalue=evalue, traceback=[])


def test_statuses():
    assert notebooks.cell_result(_test_cell([])).status == "passed"
    assert notebooks.cell_result(_test_cell([_error("NotImplementedError", "")])).status == (
        "not attempted")
    failed = notebooks.cell_result(_test_cell([_error("CheckFailure")]))
    assert failed.status == "failed" and failed.message == "CheckFailure: something"
    assert notebooks.cell_result(_test_cell([_error("AssertionError")])).status == "failed"
    assert notebooks.cell_result(_test_cell([_error("NameError")])).status == "error"
    assert notebooks.cell_result(_test_cell([], executed=False)).status == "not run"


def test_ansi_colours_are_removed():
    result = notebooks.cell_result(_test_cell([_error("\x1b[0;31mValueError\x1b[0m", "bad")]))
    assert result.message == "ValueError: bad"


def test_only_autograded_test_cells_count():
    answer = new_code_cell("def f(): pass")
    answer.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "f"}
    nb = new_notebook(cells=[answer, _test_cell([]), new_code_cell("print(1)")])
    assert [c.metadata.nbgrader["grade_id"] for c in notebooks.test_cells(nb)] == ["test_f"]
    assert notebooks.max_points(nb) == 2
    assert list(notebooks.answer_cells(nb)) == ["f"]


def test_clean():
    cell = new_code_cell("1", outputs=[new_output("stream", text="1")], execution_count=3)
    nb = new_notebook(cells=[cell])
    assert not notebooks.is_clean(nb)
    notebooks.clean(nb)
    assert notebooks.is_clean(nb) and nb.cells[0].execution_count is None


def test_without_solution_markers():
    source = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    assert notebooks.without_solution_markers(source) == "def f():\n    return 1"
