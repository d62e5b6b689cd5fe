"""What makes grading fast keeps grades exact: cached expected values, the cells after the last
test left out, the phase breakdown, the gradebook's schema revision read in-process."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import nbformat
import pytest
from conftest import ROOT

from autograder.checks.core import Exercise
from autograder.course import alembic_head, ensure_scripts_on_path
from autograder.demo import SAMPLE_CLASSES, build_submission
from autograder.grade import grade
from autograder.outputs.profile import PHASES, SANDBOX_PHASES, Profile
from autograder.settings import GradeSettings

pytestmark = pytest.mark.slow

ASSIGNMENT = "a01_critical_points"
NOTEBOOK = "critical_points"


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    """alice (full marks), dave (two tests wrong), and erin: alice's answers, then a last cell
    after every test cell that ends the process."""
    folder = tmp_path_factory.mktemp("class") / "submissions"
    by_id = {s.student_id: s for s in SAMPLE_CLASSES[ASSIGNMENT]}
    for student_id in ("alice", "dave"):
        build_submission(ROOT, ASSIGNMENT, by_id[student_id], folder)
    shutil.copytree(folder / "alice", folder / "erin")
    path = folder / "erin" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import os\nos._exit(7)"))
    nbformat.write(nb, path)
    return folder


def _scores(out):
    with open(out / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _grade(submissions, out, profile=None, **settings):
    return grade(ROOT, ASSIGNMENT, submissions, out, db_url=f"sqlite:///{out}/gradebook.db",
                 settings=GradeSettings(jobs=2, plots=False, **settings), profile=profile)


@pytest.fixture(scope="module")
def first_run(submissions, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    calls = []
    original = Exercise.expected
    Exercise.expected = lambda self, case: calls.append(1) or original(self, case)
    try:
        profile = Profile()
        result = _grade(submissions, out, profile)
    finally:
        Exercise.expected = original
    return out, result, profile, len(calls)


def test_cells_after_the_last_test_are_not_run(first_run):
    _, result, _, _ = first_run
    erin = next(s for s in result.students if s.student_id == "erin")
    assert (erin.status, erin.score) == ("graded", 25)
    assert "exit code" not in erin.message


def test_run_all_cells_runs_them(submissions, tmp_path):
    result = _grade(submissions, tmp_path / "out", run_all_cells=True)
    erin = next(s for s in result.students if s.student_id == "erin")
    assert erin.score == 25  # they cannot change a grade...
    assert "exit code 7" in erin.message  # ...but they ran


def test_expected_values_are_computed_once_and_kept_across_runs(first_run, submissions,
                                                                  monkeypatch):
    out, result, _, computed = first_run
    assert computed > 0
    stored = json.loads((out / "expected.json").read_text())
    assert len(stored["values"]) == computed  # once per case for the whole class
    before = _scores(out)
    shutil.rmtree(out / "results")  # make the next run grade everyone again

    def oracle_called(self, case):
        raise AssertionError("an expected value was computed again")

    monkeypatch.setattr(Exercise, "expected", oracle_called)
    _grade(submissions, out)
    assert _scores(out) == before


def test_expected_values_of_another_key_are_not_used(first_run, submissions, tmp_path):
    out, _, _, _ = first_run
    other = tmp_path / "out"
    other.mkdir()
    stored = json.loads((out / "expected.json").read_text())
    # Same cases under another hidden seed would be wrong values: they must be ignored.
    stored["values"] = {k: 12345.0 for k in stored["values"]}
    (other / "expected.json").write_text(json.dumps({**stored, "key": "another"}))
    _grade(submissions, other)
    assert _scores(other)["alice"]["score"] == "25"
    assert json.loads((other / "expected.json").read_text())["key"] == stored["key"]


def test_profile_covers_every_phase(first_run):
    _, result, profile, _ = first_run
    assert profile.graded == len(result.students) == 3
    for name in (*SANDBOX_PHASES, "setup", "prepare", "verdicts", "gradebook", "reports"):
        assert profile.seconds[name] > 0, name
    assert profile.wall >= profile.seconds["setup"]
    text = profile.format()
    assert all(name in text for name in PHASES)
    data = profile.as_dict()
    assert set(data["phases"]) == set(PHASES) and data["graded"] == 3


def test_unknown_phase_is_an_error():
    with pytest.raises(KeyError), Profile().phase("lunch"):
        pass


def test_alembic_head_is_the_revision_alembic_reports(tmp_path):
    ensure_scripts_on_path()
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini(f"sqlite:///{tmp_path}/gradebook.db") as ini:
        output = subprocess.check_output(["alembic", "-c", ini, "heads"], text=True)
    assert alembic_head() == output.split("\n")[0].split(" ")[0]


def test_a_sandbox_that_cannot_start_is_the_graders_failure_not_the_students(submissions,
                                                                                 tmp_path):
    from autograder.engine.messages import Fatal
    from autograder.engine.pool import JobOutcome
    from autograder.grade import SandboxUnavailable, _Grader

    out = tmp_path / "out"
    grader = _Grader(ROOT, ASSIGNMENT, submissions, out, GradeSettings(jobs=1),
                     f"sqlite:///{out}/gradebook.db", None, None, Profile())
    pending, _ = grader.prepare(submissions / "alice")
    pending.outcomes[NOTEBOOK] = JobOutcome(("alice", NOTEBOOK), [Fatal("ModuleNotFoundError")])
    with pytest.raises(SandboxUnavailable, match="could not start.*ModuleNotFoundError"):
        grader.finish(pending)
    assert not (out / "results" / "alice.json").exists()  # the next run grades alice again
