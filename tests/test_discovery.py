"""A new assignment needs no list edited: the engine, release, kit, demo and bench find it.

A copy of the course gets a throwaway assignment (a source notebook and a check module, nothing
else); every tool, run from the copy, must pick it up.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

NAME = "a99_throwaway"

CHECKS = '''"""Checks of the throwaway assignment: triple(x) = 3 x."""

from autograder.checks.core import Case, CheckFailure, Exercise


def _visible():
    return [Case("x = 2", (2.0,)), Case("x = -1.5", (-1.5,))]


def _hidden(rng):
    return [Case("a random x", (float(rng.normal()),))]


def _oracle(case):
    return 3 * case.args[0]


def _compare(got, expected, case):
    if type(got) is not float or abs(got - expected) > 1e-12:
        raise CheckFailure(f"expected {expected!r}, got {got!r}")


triple = Exercise("triple", _visible, _hidden, _oracle, _compare)

EXERCISES = {"triple": triple}
'''

TEST_CELL = f"""# test_triple: 2 points
from wwit.checks import {NAME} as checks

checks.triple.run_visible(triple)
### BEGIN HIDDEN TESTS
from autograder.checks import {NAME} as hidden

hidden.triple.run_hidden(triple)
### END HIDDEN TESTS"""


def _notebook() -> nbformat.NotebookNode:
    intro = nbformat.v4.new_markdown_cell("# Throwaway\n\nWrite `triple`.")
    intro.metadata["nbgrader"] = {"grade": False, "locked": True, "solution": False,
                                  "grade_id": "intro", "schema_version": 3}
    # The solution imports a lecture helper that no one preloaded: the sandbox must see the
    # course's public wwit/ even when the course lies under /tmp (as this copy does).
    answer = nbformat.v4.new_code_cell(
        'def triple(x):\n    """Return 3 x."""\n    ### BEGIN SOLUTION\n'
        "    import wwit.surfaces  # noqa: F401\n\n    return 3 * x\n    ### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade": False, "locked": False, "solution": True,
                                   "grade_id": "triple", "schema_version": 3}
    test = nbformat.v4.new_code_cell(TEST_CELL)
    test.metadata["nbgrader"] = {"grade": True, "locked": True, "solution": False, "points": 2,
                                 "grade_id": "test_triple", "schema_version": 3}
    nb = nbformat.v4.new_notebook(cells=[intro, answer, test])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in ("autograder", "wwit", "source", "notebooks", "lectures", "bench"):
        shutil.copytree(ROOT / name, course / name, ignore=ignore)
    for name in ("nbgrader_config.py", "requirements.txt"):
        shutil.copy2(ROOT / name, course / name)
    (course / "autograder" / "checks" / f"{NAME}.py").write_text(CHECKS)
    (course / "source" / NAME).mkdir()
    nbformat.write(_notebook(), str(course / "source" / NAME / "throwaway.ipynb"))
    return course


def _run(course: Path, *args: str, rc: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(course)}
    env.pop("COURSE_ROOT", None)
    run = subprocess.run([sys.executable, *args], cwd=course, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == rc, run.stdout[-2000:] + run.stderr[-3000:]
    return run


def test_preloaded_and_monitored(course):
    _run(course, "-c", f"""
import sys
import autograder
assert autograder.__file__.startswith({str(course)!r}), autograder.__file__
from autograder.engine import sandbox
sandbox.preload()
assert "autograder.checks.{NAME}" in sys.modules
from autograder.checks.{NAME} import triple
codes = sandbox._oracle_codes()
assert triple.oracle.__code__ in codes and triple.compare.__code__ in codes
""")


def test_released_kitted_and_graded(course):
    unreleased = _run(course, "-m", "autograder", "kit", NAME, "--out", "build/kit", rc=2)
    assert "is not released: run `make release` first" in unreleased.stderr
    _run(course, "-m", "autograder", "release", NAME)
    released = (course / "notebooks" / NAME / "throwaway.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released and "run_hidden" not in released

    _run(course, "-m", "autograder", "kit", NAME, "--out", "build/kit")
    checks = course / "build" / "kit" / "wwit" / "checks" / NAME
    assert json.loads((checks / "cases.json").read_text())["exercises"]["triple"]["cases"]
    harness = (checks / f"_{NAME}.py").read_text()
    assert "def _compare" in harness and "_oracle" not in harness and "_hidden" not in harness
    assert (course / "build" / "kit" / "notebooks" / NAME / "throwaway.ipynb").is_file()

    _run(course, "-m", "autograder", "demo", "--assignment", NAME, "--out", "demo")
    with open(course / "demo" / "graded" / "grades.csv", newline="") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores["alice"] == 2 and scores["carol"] == 0 and scores["niaj"] == 0


def test_bench_lists_it(course):
    _run(course, "-c", f"""
import sys
sys.path.insert(0, "bench")
import grade_bench
assert "{NAME}" in grade_bench.ASSIGNMENTS, grade_bench.ASSIGNMENTS
planned = grade_bench.plan_class("{NAME}", 10)
assert {{p.variant for p in planned}} >= {{"correct", "wrong", "partial"}}
""")


def test_a_stale_release_is_refused(course):
    _run(course, "-m", "autograder", "release", NAME)
    path = course / "notebooks" / NAME / "throwaway.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    test.source = test.source.replace("checks.triple.run_visible", "checks.quadruple.run_visible")
    nbformat.write(nb, str(path))
    stale = _run(course, "-m", "autograder", "kit", NAME, "--out", "build/stale", rc=2)
    assert "quadruple" in stale.stderr and "run `make release`" in stale.stderr
    _run(course, "-m", "autograder", "release", NAME)
