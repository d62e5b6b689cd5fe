"""The demo's sample class is built as described (grading it is covered by test_grade)."""

from __future__ import annotations

import json

from conftest import ROOT

from autograder import notebooks
from autograder.demo import SAMPLE_CLASSES, build_class


def test_sample_class(tmp_path):
    students = build_class(ROOT, "a01_critical_points", tmp_path)
    assert len(students) >= 12
    assert {s.breakage for s in students} >= {"", "invalid_json", "kernel_dies",
                                               "missing_notebook"}
    nb_name = "critical_points.ipynb"
    alice = notebooks.read(tmp_path / "alice" / "a01_critical_points" / nb_name)
    answers = notebooks.answer_cells(alice).values()
    assert "NotImplementedError" not in "".join(c.source for c in answers)
    assert "### BEGIN SOLUTION" not in "".join(c.source for c in alice.cells)
    carol = notebooks.read(tmp_path / "carol" / "a01_critical_points" / nb_name)
    assert "raise NotImplementedError()" in notebooks.answer_cells(carol)["loss_hessian"].source
    broken = (tmp_path / "mallory" / "a01_critical_points" / nb_name).read_text()
    try:
        json.loads(broken)
        raise AssertionError("mallory's notebook should be invalid JSON")
    except json.JSONDecodeError:
        pass
    assert not (tmp_path / "olivia" / "a01_critical_points" / nb_name).exists()


def test_every_assignment_with_a_sample_class_exists():
    for assignment in SAMPLE_CLASSES:
        assert (ROOT / "source" / assignment).is_dir()
