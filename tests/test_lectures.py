"""Every lecture executes top to bottom without an error, within its time budget."""

from __future__ import annotations

import time

import pytest
from conftest import ids, lecture_notebooks
from nbformat.v4 import new_code_cell

from autograder import notebooks
from autograder.engine.execute import KernelExecutor, run_lecture
from wwit.checks.notebook import BudgetExceeded

pytestmark = pytest.mark.slow


def test_there_are_lectures():
    assert lecture_notebooks()


@pytest.mark.parametrize("path", lecture_notebooks(), ids=ids(lecture_notebooks()))
def test_lecture_executes(path):
    """Within the budget (``LECTURE_BUDGET_S``): a hang fails the lecture by name and cell."""
    run = run_lecture(path)
    assert not run.problem, f"{path.name}: {run.problem}"
    print(f"{path.name} executed in {run.seconds:.1f} s")


def test_a_hanging_lecture_fails_loudly_within_its_budget(tmp_path):
    """A cell that never returns stops the notebook at the budget, with the cell named."""
    nb = notebooks.read(lecture_notebooks()[0])
    nb.cells = [nb.cells[0], new_code_cell("x = 1"), new_code_cell("import time\ntime.sleep(600)"),
                new_code_cell("y = 2")]
    start = time.perf_counter()
    with pytest.raises(BudgetExceeded, match=r"budget of 8 s \(cell 2 was still running"):
        KernelExecutor(budget=8).execute(nb, tmp_path)
    assert time.perf_counter() - start < 30

