"""``grade --scheduler``: a loopback Dask cluster, started with Dask's own command-line tools,
grades a class exactly as this machine does, through a killed worker and a killed client.

One scheduler and two workers (``--nthreads 1``): one under a nanny with
``DASK_DISTRIBUTED__WORKER__DAEMON=False``, one with ``--no-nanny`` (the two ways the README
gives to let a worker start sandboxes). Each runs in its own process group; the fixture kills
them all and checks that no process of theirs is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT

from autograder import notebooks
from autograder.course import source_notebooks
from autograder.demo import SAMPLE_CLASSES, STUB, Student, build_submission
from autograder.grade import grade
from autograder.settings import GradeSettings

pytestmark = pytest.mark.slow

psutil = pytest.importorskip("psutil")  # a dependency of distributed
pytest.importorskip("distributed")

ASSIGNMENT = "a01_critical_points"
BIN = Path(sys.executable).parent
#: Prepended to the slow student's first answer: about 3 s of busy CPU work when it runs.
BUSY = """import time as _busy_time

_busy_start = _busy_time.process_time()
while _busy_time.process_time() - _busy_start < 3.0:
    sum(_i * _i for _i in range(10_000))

"""
SLOW = "bob_slow"
#: Grades the class through the command line, then says whether Dask was ever imported.
LOCAL = ("import sys\nfrom autograder.cli import main\nrc = main(sys.argv[1:])\n"
         "print('DASK MODULES', sorted(m for m in sys.modules\n"
         "      if m.split('.')[0] in ('dask', 'distributed')))\nsys.exit(rc)\n")


def _class() -> list[Student]:
    by_id = {s.student_id: s for s in SAMPLE_CLASSES[ASSIGNMENT]}
    source = notebooks.read(source_notebooks(ROOT, ASSIGNMENT)[0])
    grade_id, cell = next(iter(notebooks.answer_cells(source).items()))
    slow = Student(SLOW, {grade_id: BUSY + notebooks.without_solution_markers(cell.source)})
    return [by_id["alice"], slow, Student("carol", default=STUB), by_id["dave"], by_id["erin"]]


def _command(submissions: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--submissions",
            str(submissions), "--out", str(out), "--db", f"sqlite:///{out / 'gradebook.db'}",
            "--no-plots", *extra]


def _tree(pid: int) -> list[int]:
    try:
        process = psutil.Process(pid)
        return [pid, *(p.pid for p in process.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def _alive(pids) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _wait_gone(pids, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pids)


class Cluster:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.processes = folder, []
        self.file = folder / "scheduler.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--scheduler-file", str(self.file), "--no-dashboard"], env, "scheduler")
        worker = [str(BIN / "dask"), "worker", "--scheduler-file", str(self.file),
                  "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"]
        self._start([*worker, "--local-directory", str(folder / "w1")],
                    {**env, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}, "worker-nanny")
        self._start([*worker, "--no-nanny", "--local-directory", str(folder / "w2")], env,
                    "worker-no-nanny")
        self._address = ""

    def _start(self, command: list[str], env: dict[str, str], name: str) -> None:
        log = open(self.folder / f"{name}.log", "w")  # the process keeps its own copy
        self.processes.append(subprocess.Popen(command, cwd=self.folder, env=env, stdout=log,
                                               stderr=subprocess.STDOUT,
                                               start_new_session=True))
        log.close()

    @property
    def address(self) -> str:
        """The scheduler's address, once both workers are connected."""
        if not self._address:
            from distributed import Client

            deadline = time.monotonic() + 60
            while not self.file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            address = json.loads(self.file.read_text())["address"]
            with Client(address, timeout=30, set_as_default=False) as client:
                client.wait_for_workers(2, timeout=60)
            self._address = address
        return self._address

    def stop(self) -> list[int]:
        """SIGKILL every process group; the pids still alive 15 s later (none expected)."""
        pids = {pid for p in self.processes for pid in _tree(p.pid)}
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes:
            process.wait(timeout=30)
        groups = {p.pid for p in self.processes}
        in_groups = set()
        for process in psutil.process_iter():
            try:
                if os.getpgid(process.pid) in groups:
                    in_groups.add(process.pid)
            except (ProcessLookupError, psutil.Error):
                pass
        return _wait_gone(pids | in_groups)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The class, the cluster (starting while the reference grades) and the local reference:
    ``grades.csv`` of ``grade --jobs 2`` on this machine."""
    base = tmp_path_factory.mktemp("dask")
    submissions = base / "submissions"
    students = _class()
    for student in students:
        build_submission(ROOT, ASSIGNMENT, student, submissions)
    (base / "cluster").mkdir()
    cluster = Cluster(base / "cluster")
    try:
        local = base / "local"
        done = subprocess.run([sys.executable, "-c", LOCAL, *_command(submissions, local)[3:],
                               "--jobs", "2", "--profile"], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        yield {"base": base, "submissions": submissions, "students": students,
               "cluster": cluster, "local": local, "local_stdout": done.stdout,
               "reference": (local / "grades.csv").read_text()}
    finally:
        left = cluster.stop()
    assert not left, f"processes of the cluster left behind: {left}"


def test_a_cluster_grades_like_this_machine(setup):
    out = setup["base"] / "cluster_run"
    result = grade(ROOT, ASSIGNMENT, setup["submissions"], out,
                   settings=GradeSettings(scheduler=setup["cluster"].address, plots=False),
                   db_url=f"sqlite:///{out / 'gradebook.db'}")
    assert (out / "grades.csv").read_text() == setup["reference"]
    scores = {s.student_id: s.score for s in result.students}
    assert scores["alice"] == scores[SLOW] == 25 and scores["carol"] == 0
    assert 0 < scores["dave"] < 25 and 0 < scores["erin"] < 25
    assert result.isolation  # the workers' sandboxes reported their isolation


def _sandbox_running(pid: int) -> bool:
    """Whether a sandbox forked from the worker's fork server is alive."""
    try:
        children = psutil.Process(pid).children(recursive=True)
        servers = {p.pid for p in children if "forkserver" in " ".join(p.cmdline())}
        return any(p.ppid() in servers for p in children)
    except psutil.Error:
        return False


def _kill_worker_running(address: str, student: str, killed: dict, stop: threading.Event):
    """SIGKILL the worker process once the student's sandbox is running on it."""
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        while not stop.is_set():
            busy = client.run(lambda dask_worker: [str(t.key)
                                                   for t in dask_worker.state.executing])
            for worker, keys in busy.items():
                if any(f"-{student}-" in k for k in keys):
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    if _sandbox_running(pid):
                        time.sleep(0.5)  # the busy loop has begun
                        tree = _tree(pid)
                        os.kill(pid, signal.SIGKILL)
                        killed.update(worker=worker, pid=pid, tree=tree)
                        return
            time.sleep(0.1)


def test_b_a_worker_killed_mid_submission_loses_nothing(setup):
    from nbgrader.api import Gradebook

    out = setup["base"] / "killed_worker"
    killed: dict = {}
    stop = threading.Event()
    killer = threading.Thread(target=_kill_worker_running,
                              args=(setup["cluster"].address, SLOW, killed, stop), daemon=True)
    killer.start()
    graded: list[str] = []
    try:
        grade(ROOT, ASSIGNMENT, setup["submissions"], out,
              settings=GradeSettings(scheduler=setup["cluster"].address, plots=False),
              db_url=f"sqlite:///{out / 'gradebook.db'}",
              progress=lambda s: graded.append(s.student_id))
    finally:
        stop.set()
        killer.join(timeout=30)
    assert killed, "the slow submission was never seen running on a worker"
    assert (out / "grades.csv").read_text() == setup["reference"]
    assert sorted(graded) == sorted(s.student_id for s in setup["students"])  # once each
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        ids = [s.student_id for s in gb.assignment_submissions(ASSIGNMENT)]
    assert sorted(ids) == sorted(graded)
    assert not _wait_gone(killed["tree"]), "the killed worker's sandbox outlived it"


def test_c_a_killed_client_resumes_without_regrading(setup):
    out = setup["base"] / "killed_client"
    command = _command(setup["submissions"], out, "--scheduler", setup["cluster"].address)
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    results = out / "results"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        if list(results.glob("*.json")):
            break
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in results.glob("*.json")}
    assert 1 <= len(before) < len(setup["students"])

    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (out / "grades.csv").read_text() == setup["reference"]
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in results.glob("*.json")}
    assert {name: after[name] for name in before} == before  # finished students: untouched
    assert len(after) == len(setup["students"])


def test_d_local_grading_never_imports_dask(setup):
    line = next(x for x in setup["local_stdout"].splitlines() if x.startswith("DASK MODULES"))
    assert line == "DASK MODULES []"


def test_grade_profile_prints_and_writes_the_phase_breakdown(setup):
    from autograder.outputs.profile import PHASES

    assert "Where the time went (5 submission(s) graded" in setup["local_stdout"]
    profile = json.loads((setup["local"] / "profile.json").read_text())
    assert profile["graded"] == 5 and set(profile["phases"]) == set(PHASES)


def test_e_an_unreachable_scheduler_is_a_clear_error(setup, tmp_path, capsys):
    import socket

    import dask

    from autograder.cli import main

    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main(_command(setup["submissions"], tmp_path / "out", "--scheduler",
                             address)[3:])
    assert code == 2
    assert f"could not reach the Dask scheduler at {address}" in capsys.readouterr().err
    assert not list((tmp_path / "out" / "results").glob("*.json"))  # nobody graded


def test_f_a_malformed_result_is_a_crash_not_an_error():
    from autograder.engine import messages, remote, wire

    key = ("alice", "critical_points")
    good = {"key": list(key), "messages": [messages.to_data(messages.Ended())], "killed": "",
            "exitcode": 0, "problem": "", "seconds": 1.5, "phases": {"cells": 1.0},
            "worker": "tcp://127.0.0.1:1"}
    outcome = remote.decode_outcome(wire.dumps(good), key)
    assert (outcome.problem, outcome.messages, outcome.worker) == (
        "", [messages.Ended()], "tcp://127.0.0.1:1")
    for bad in (b"not json", wire.dumps([1]), wire.dumps({**good, "extra": 1}),
                wire.dumps({**good, "key": ["bob", "critical_points"]}),
                wire.dumps({**good, "messages": [{"event": "nope"}]}),
                wire.dumps({**good, "exitcode": "0"}), wire.dumps({**good, "seconds": -1}),
                wire.dumps({**good, "phases": {"cells": "1"}}), "a str", None):
        outcome = remote.decode_outcome(bad, key)
        assert outcome.problem.startswith("malformed result from the cluster worker")
        assert not outcome.messages


def test_g_the_files_sent_are_those_a_local_run_copies(tmp_path):
    from autograder.engine import remote

    folder = tmp_path / "sub"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "x.csv").write_text("1,2\n")
    (folder / "critical_points.ipynb").write_text("{}")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "a.txt").write_text("old")
    (tmp_path / "secret").write_text("not the student's")
    (folder / "link").symlink_to(tmp_path / "secret")
    (folder / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    assert remote.submission_files(folder) == {"data/x.csv": b"1,2\n"}
    (folder / "big.bin").write_bytes(b"\0" * (remote.MAX_FILES_BYTES + 1))
    with pytest.raises(ValueError, match="more than a cluster task carries"):
        remote.submission_files(folder)


def test_h_a_daemonic_worker_says_how_to_start_it(monkeypatch):
    import multiprocessing

    from autograder.engine import remote

    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    payload = {"key": ["alice", "critical_points"], "steps": [], "limits": {}, "uid_base": 61000,
               "hidden_seed": 0, "files": {}}
    outcome = remote.decode_outcome(remote.run_on_worker(payload), ("alice", "critical_points"))
    assert "--no-nanny" in outcome.problem and "DASK_DISTRIBUTED__WORKER__DAEMON" in outcome.problem
