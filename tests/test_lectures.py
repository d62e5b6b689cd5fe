"""Every lecture executes top to bottom without an error."""

from __future__ import annotations

import time

import pytest
from conftest import ids, lecture_notebooks

from autograder import notebooks
from autograder.engine.execute import KernelExecutor

pytestmark = pytest.mark.slow


def test_there_are_lectures():
    assert lecture_notebooks()


@pytest.mark.parametrize("path", lecture_notebooks(), ids=ids(lecture_notebooks()))
def test_lecture_executes(path):
    nb = notebooks.read(path)
    start = time.perf_counter()
    KernelExecutor(timeout=300).execute(nb, path.parent)
    elapsed = time.perf_counter() - start
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells)
              if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"{path.name} raised: {errors}"
    print(f"{path.name} executed in {elapsed:.1f} s")
