"""``make lab`` on the instructor's repository: clean saves, Formgrader's gradebook, the command."""

from __future__ import annotations

import os
import shutil
import subprocess

import nbformat
import pytest
from conftest import ROOT

from autograder.course import assignments, course_folders
from autograder.lab import CLEAN_FOLDERS, pre_save
from autograder.release import record


def _model() -> dict:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("1 + 1", execution_count=3,
                                  outputs=[nbformat.v4.new_output("execute_result",
                                                                  {"text/plain": "2"},
                                                                  execution_count=3)])])
    return {"type": "notebook", "content": nbformat.from_dict(nb)}


@pytest.mark.parametrize("folder", CLEAN_FOLDERS)
def test_saving_a_course_notebook_strips_its_outputs(folder):
    model = _model()
    pre_save(model, f"{folder}/x/nb.ipynb", contents_manager=None)
    code = model["content"]["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert model["content"]["cells"][0]["source"] == "# title"


@pytest.mark.parametrize("path", ["student/a01/nb.ipynb", "nb.ipynb",
                                  "build/kit/notebooks/nb.ipynb", "my_lectures/nb.ipynb"])
def test_work_elsewhere_is_saved_as_is(path):
    model = _model()
    pre_save(model, path, contents_manager=None)
    assert model["content"]["cells"][1]["outputs"]


def test_other_files_are_saved_as_is():
    model = {"type": "file", "content": "text"}
    pre_save(model, "lectures/notes.txt")
    assert model == {"type": "file", "content": "text"}


def test_make_lab_runs_jupyter_with_the_hook_token_and_port():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry = subprocess.run(["make", "-n", "-B", "lab", "PORT=8899", "TOKEN=abc"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert "autograder release --record" in dry
    assert "--port=8899" in dry and "--IdentityProvider.token=abc" in dry
    assert "--FileContentsManager.pre_save_hook=autograder.lab.pre_save" in dry


@pytest.mark.slow
def test_record_puts_every_assignment_and_notebook_in_the_gradebook(tmp_path):
    from nbgrader.api import Gradebook

    for name in ("nbgrader_config.py",):
        shutil.copy2(ROOT / name, tmp_path / name)
    for folder in ("source", "notebooks"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    before = {p: p.read_bytes() for p in (tmp_path / "notebooks").rglob("*.ipynb")}
    url = record(tmp_path)
    assert url == course_folders(tmp_path).db_url == f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        recorded = {a.name: sorted(n.name for n in a.notebooks) for a in gb.assignments}
    assert recorded == {a: sorted(p.stem for p in (ROOT / "source" / a).glob("*.ipynb"))
                        for a in assignments(ROOT)}
    assert before == {p: p.read_bytes() for p in (tmp_path / "notebooks").rglob("*.ipynb")}
