"""Golden files: ``report.json`` and the feedback pages of a small fixed class (as otter-grader
keeps its outputs). A change to what a run writes shows as a diff of these files; after checking
it, regenerate them with ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import ROOT

from autograder.demo import SAMPLE_CLASSES, build_submission
from autograder.grade import grade
from autograder.settings import GradeSettings

pytestmark = pytest.mark.slow

ASSIGNMENT = "a02_batch_momentum"
STUDENTS = ("alice", "carol", "dave", "erin", "mallory", "olivia")
GOLDEN = ROOT / "tests" / "golden" / ASSIGNMENT


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("golden")
    sample = {s.student_id: s for s in SAMPLE_CLASSES[ASSIGNMENT]}
    for student_id in STUDENTS:
        build_submission(ROOT, ASSIGNMENT, sample[student_id], base / "submissions")
    settings = GradeSettings(jobs=1, plots=False)
    grade(ROOT, ASSIGNMENT, base / "submissions", base / "out", settings=settings)
    return base / "out"


def _outputs(out: Path) -> dict[str, str]:
    report = json.loads((out / "report.json").read_text())
    report.pop("isolation")  # depends on the machine (root or not)
    files = {"report.json": json.dumps(report, indent=2) + "\n"}
    for path in sorted((out / "feedback").glob("*/feedback.html")):
        files[f"feedback/{path.parent.name}.html"] = path.read_text()
    return files


def test_outputs_match_the_golden_files(graded):
    outputs = _outputs(graded)
    if os.environ.get("UPDATE_GOLDEN"):
        for name, text in outputs.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(text)
    golden = {str(p.relative_to(GOLDEN)): p.read_text() for p in GOLDEN.rglob("*")
              if p.is_file()}
    assert sorted(outputs) == sorted(golden)
    for name, text in outputs.items():
        assert text == golden[name], f"{name} differs from tests/golden/{ASSIGNMENT}/{name}"
