"""The sandbox sees an allow-list, and one bad submission never costs another student a point.

One test per defect of the engine's first pass: the machine's files, a planted symbolic link, a
fork flood before an honest thread, a killed grader, the output folder's modes, temporary
folders, and a submission that makes the grader itself fail. The assignment is a02 (4 tests,
15 points).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from autograder import notebooks
from autograder.demo import Student, build_submission
from autograder.engine import private
from autograder.engine.pool import _processes_of
from autograder.grade import grade
from autograder.settings import GradeSettings

ASSIGNMENT = "a02_batch_momentum"
NOTEBOOK = "batch_momentum.ipynb"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the full sandbox needs root")


def _answer(nb, grade_id):
    return next(c for c in nb.cells if notebooks.nbgrader_meta(c).get("grade_id") == grade_id)


def _class(base: Path, students: dict[str, str | None]) -> Path:
    """Full solutions; ``code`` (when given) runs first in the student's ``sgd_step`` cell."""
    submissions = base / "submissions"
    for name, code in students.items():
        build_submission(ROOT, ASSIGNMENT, Student(name), submissions)
        if code:
            path = submissions / name / ASSIGNMENT / NOTEBOOK
            nb = notebooks.read(path)
            cell = _answer(nb, "sgd_step")
            cell.source = code + "\n" + cell.source
            notebooks.write(nb, path)
    return submissions


def _scores(result) -> dict[str, float]:
    return {s.student_id: s.score for s in result.students}


PROBE = """
import os
MARK = {mark!r}
leaks = []
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    with open(os.path.join(folder, MARK), "w") as handle:  # a private, empty folder: allowed
        handle.write("x")
for path in ("/root/" + MARK, {course!r} + "/" + MARK, {course!r} + "/source/" + MARK):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        leaks.append("wrote " + path)
    except OSError:
        pass
for path in ({secret!r}, {course!r} + "/source", {others!r}):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path).read()
        leaks.append("read " + path)
    except OSError:
        pass
if leaks:
    raise RuntimeError(leaks)
"""


@pytest.mark.slow
@as_root
def test_the_sandbox_sees_nothing_of_the_machine(tmp_path):
    mark = f"wwit-probe-{os.getpid()}"
    secret = Path("/opt") / f"{mark}-secret.txt"  # world-readable, outside every allowed path
    secret.write_text("the answers")
    secret.chmod(0o644)
    others = tmp_path / "another_run"
    others.mkdir()
    (others / "hidden_tests.txt").write_text("hidden")
    os.chmod(tmp_path, 0o755)
    os.chmod(others, 0o755)
    try:
        code = PROBE.format(mark=mark, course=str(ROOT), secret=str(secret),
                            others=str(others))
        submissions = _class(tmp_path, {"prober": code})
        result = grade(ROOT, ASSIGNMENT, submissions, tmp_path / "out",
                       settings=GradeSettings(jobs=1, plots=False, feedback=False))
    finally:
        secret.unlink()
    prober = result.students[0]
    assert {t.grade_id: t.status for t in prober.tests}["test_sgd_step"] == "passed", prober
    assert prober.score == 15
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/root", str(ROOT), str(ROOT / "source")):
        assert not (Path(folder) / mark).exists(), f"the sandbox wrote {folder}/{mark}"
    assert "allow-list root" in result.isolation["filesystem"]


@pytest.mark.slow
@as_root
def test_a_fork_flood_costs_the_next_student_nothing(tmp_path):
    flood = ("import os, time\nfor _ in range(500):\n    try:\n        if os.fork() == 0:\n"
             "            time.sleep(60)\n            os._exit(0)\n    except OSError:\n"
             "        break")
    thread = ("import threading\nworker = threading.Thread(target=sum, args=([1, 2],))\n"
              "worker.start()\nworker.join()")
    submissions = _class(tmp_path, {"a_flood": flood, "b_thread": thread})
    result = grade(ROOT, ASSIGNMENT, submissions, tmp_path / "out",
                   settings=GradeSettings(jobs=1, plots=False, feedback=False,
                                          sandbox_uid=63000))
    assert _scores(result)["b_thread"] == 15
    assert _processes_of(63000) == []


@pytest.mark.slow
@as_root
def test_a_killed_grader_leaves_no_process_and_no_folder(tmp_path):
    hang = ("import os, time\nif os.fork() == 0:\n    time.sleep(120)\n    os._exit(0)\n"
            "time.sleep(120)")
    submissions = _class(tmp_path, {"hangs": hang})
    before = set(os.listdir("/tmp"))
    uid = 63100
    command = [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--submissions",
               str(submissions), "--out", str(tmp_path / "out"), "--jobs", "1",
               "--db", f"sqlite:///{tmp_path / 'out.db'}",
               "--sandbox-uid", str(uid), "--cell-timeout", "300", "--no-plots"]
    grader = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(_processes_of(uid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_processes_of(uid)) >= 2, "the sandbox never started"
    dead = grader.pid
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    time.sleep(2)
    assert _processes_of(uid) == [], "sandbox processes outlived the grader by 2 s"
    stale = [p.name for p in private.base().iterdir() if f"-{dead}-" in p.name]
    assert stale, "expected the killed run's folder until the next run"
    quick = _class(tmp_path / "again", {"alice": None})
    subprocess.run([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--submissions",
                    str(quick), "--out", str(tmp_path / "out2"), "--jobs", "1",
                    "--db", f"sqlite:///{tmp_path / 'out2.db'}",
                    "--sandbox-uid", str(uid), "--no-plots"], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    assert not [p.name for p in private.base().iterdir() if f"-{dead}-" in p.name]
    assert not [n for n in set(os.listdir("/tmp")) - before if n.startswith("wwit")]


def test_the_private_folder_refuses_links_and_open_modes(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setattr(private, "ROOT_FOLDER", link)
    monkeypatch.setattr(private, "USER_FOLDER", link)
    with pytest.raises(private.PrivateFolderError):
        private.base()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    monkeypatch.setattr(private, "ROOT_FOLDER", shared)
    monkeypatch.setattr(private, "USER_FOLDER", shared)
    with pytest.raises(private.PrivateFolderError):
        private.base()
    monkeypatch.setattr(private, "ROOT_FOLDER", real)
    monkeypatch.setattr(private, "USER_FOLDER", real)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (real / "uid-61000.lock").symlink_to(victim)
    with pytest.raises(OSError):
        private.open_lock("uid-61000.lock")
    assert victim.read_text() == "keep"


@pytest.mark.slow
@as_root
def test_a_planted_lock_link_in_tmp_is_not_followed(tmp_path):
    victim = tmp_path / "root_owned.txt"
    victim.write_text("precious")
    planted = Path("/tmp") / "wwit-sandbox-uid-63200.lock"
    if planted.is_symlink() or planted.exists():
        planted.unlink()
    planted.symlink_to(victim)
    try:
        submissions = _class(tmp_path, {"alice": None})
        result = grade(ROOT, ASSIGNMENT, submissions, tmp_path / "out",
                       settings=GradeSettings(jobs=1, plots=False, feedback=False,
                                              sandbox_uid=63200))
    finally:
        planted.unlink()
    assert _scores(result) == {"alice": 15}
    assert victim.read_text() == "precious"


@pytest.mark.slow
def test_the_output_folder_is_private_and_a_grader_error_costs_one_student(
        tmp_path, monkeypatch, capsys):
    from autograder import cli
    from autograder import grade as grade_module

    submissions = _class(tmp_path, {"alice": None, "mallory": None, "zoe": None})
    path = submissions / "mallory" / ASSIGNMENT / NOTEBOOK
    nb = notebooks.read(path)
    nb.cells[0].metadata["nbgrader"] = "oops"  # valid JSON and nbformat, not nbgrader
    nbformat.validate(nb)
    notebooks.write(nb, path)
    path = submissions / "zoe" / ASSIGNMENT / NOTEBOOK
    nb = notebooks.read(path)
    nb.metadata["simulate_grader_bug"] = True
    notebooks.write(nb, path)
    real_rebuild = grade_module.rebuild

    def rebuild(source, released, student, exercises):
        if student.metadata.get("simulate_grader_bug"):
            raise AttributeError("a simulated bug of the grader")
        return real_rebuild(source, released, student, exercises)

    monkeypatch.setattr(grade_module, "rebuild", rebuild)
    out = tmp_path / "out"
    code = cli.main(["grade", ASSIGNMENT, "--submissions", str(submissions), "--out", str(out),
                     "--db", f"sqlite:///{tmp_path / 'gradebook.db'}", "--jobs", "2",
                     "--no-plots"])
    assert code == 1 and "need attention" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    students = {s["student_id"]: s for s in report["students"]}
    assert (students["alice"]["status"], students["alice"]["score"]) == ("graded", 15)
    assert (students["mallory"]["status"], students["mallory"]["score"]) == ("graded", 15)
    assert students["zoe"]["status"] == "grading error"
    assert "Traceback" in students["zoe"]["message"]
    assert "a simulated bug of the grader" in students["zoe"]["message"]
    for item in [out, *out.rglob("*")]:
        if item.is_symlink():
            continue
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode == (0o700 if item.is_dir() else 0o600), f"{item}: {oct(mode)}"
