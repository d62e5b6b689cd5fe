"""The command line: argument handling, check, release errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from autograder.cli import build_parser, main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_parser_knows_every_verb():
    parser = build_parser()
    for verb in ("release", "check", "grade", "demo"):
        assert parser.parse_args([verb, "x"] if verb in ("check",) else
                                 [verb] if verb in ("release", "demo") else
                                 [verb, "a", "--submissions", "s", "--out", "o"]).verb == verb


def test_unknown_assignment_is_a_clear_error(capsys):
    assert main(["release", "no_such_assignment"]) == 2
    assert "unknown assignment 'no_such_assignment'" in capsys.readouterr().err


def test_check_missing_file_is_a_clear_error(capsys):
    assert main(["check", "does/not/exist.ipynb"]) == 2
    assert "no notebook at" in capsys.readouterr().err


def test_check_invalid_notebook_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    assert main(["check", str(bad)]) == 2
    assert "could not run" in capsys.readouterr().err


@pytest.mark.slow
def test_check_on_the_stub_reports_not_attempted():
    run = _run("check", "notebooks/a01_critical_points/critical_points.ipynb")
    assert run.returncode == 1, run.stderr
    assert "test_numerical_gradient" in run.stdout and "not attempted" in run.stdout
    assert "Visible tests: 0/25 points" in run.stdout


@pytest.mark.slow
def test_check_on_the_solution_passes():
    run = _run("check", "source/a01_critical_points/critical_points.ipynb")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Visible tests: 25/25 points" in run.stdout
    assert "Written answers" not in run.stdout  # a01 has none
    assert re.search(r"^Ran in \d+\.\d s, up to the last test cell", run.stdout, re.MULTILINE)


def test_check_stops_after_the_last_test_cell():
    """Cells after the last test cell cannot change a result: the check does not run them, and
    its report says so and how long the run took."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from wwit.checks.notebook import CheckReport, up_to_last_test

    test = new_code_cell("assert True", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 1}})
    nb = new_notebook(cells=[new_code_cell("x = 1"), test, new_markdown_cell("## Applied"),
                             new_code_cell("train_for_an_hour()"), new_code_cell("plot()")])
    assert up_to_last_test(nb) == 2
    assert [c.source for c in nb.cells] == ["x = 1", "assert True"]
    untested = new_notebook(cells=[new_code_cell("x = 1")])
    assert up_to_last_test(untested) == 0 and len(untested.cells) == 1
    line = CheckReport(Path("nb.ipynb"), [], seconds=3.14, skipped=2).format().splitlines()[-1]
    assert line == ("Ran in 3.1 s, up to the last test cell (2 code cell(s) after it not run: "
                    "run them in JupyterLab).")


def test_check_names_the_written_answers_it_does_not_grade():
    """A notebook with a written answer says how many points the instructor grades by hand."""
    from wwit.checks.notebook import CheckReport, read, written_answers

    nb = read(ROOT / "notebooks" / "a02_batch_momentum" / "batch_momentum.ipynb")
    report = CheckReport(Path("batch_momentum.ipynb"), [], written_answers(nb))
    assert report.written == [("sgd_curves", 2.0)]
    assert ("Written answers, graded by your instructor (not checked here): sgd_curves "
            "(2 points).") in report.format()


def test_make_puts_the_course_environment_first_on_path():
    """``make lab``'s terminals and nbgrader's ``alembic`` find the course's environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    run = subprocess.run(["make", "--no-print-directory", "--eval", "show-path: ; @echo $$PATH",
                          "show-path"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.stdout.split(":")[0] == str(ROOT / ".venv" / "bin")


def test_kit_refuses_to_overwrite_a_folder_that_is_not_a_kit(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    assert main(["kit", "--out", str(tmp_path)]) == 2
    assert "is not a course kit" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_kit_of_an_unknown_assignment_is_a_clear_error(capsys, tmp_path):
    assert main(["kit", "no_such_assignment", "--out", str(tmp_path / "kit")]) == 2
    assert "unknown assignment 'no_such_assignment'" in capsys.readouterr().err


def test_settings_are_validated_when_made(tmp_path, capsys):
    from autograder.settings import GradeSettings, SettingsError

    for bad in ({"jobs": 0}, {"cell_timeout": "5"}, {"memory_mb": 10}, {"feedback": 1}):
        with pytest.raises(SettingsError):
            GradeSettings(**bad)
    assert GradeSettings(cell_timeout=5).cell_timeout == 5.0
    (tmp_path / "subs").mkdir()
    assert main(["grade", "a01_critical_points", "--submissions", str(tmp_path / "subs"),
                 "--out", str(tmp_path / "out"), "--jobs", "0"]) == 2
    assert "setting jobs must be between 1 and 1024" in capsys.readouterr().err


def test_the_readme_table_lists_every_setting_with_its_default():
    from autograder.settings import GradeSettings, options

    readme = (ROOT / "README.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines()
            if line.startswith("| `--")}
    defaults = GradeSettings()
    for name in options():
        row = next((r for k, r in rows.items() if k.startswith(f"`--{name.replace('_', '-')} ")),
                   None)
        assert row is not None, f"--{name} is missing from the README's settings table"
        if name not in ("jobs", "hidden_seed", "scheduler"):
            assert f" {getattr(defaults, name):g} " in row, f"README default of --{name}"
