"""Run sandboxed notebooks in parallel: one fresh process per notebook, forked from a warm server.

:class:`Pool` keeps up to ``jobs`` sandboxes running, reads their (data-only) messages, enforces
the wall-clock limits from outside (a cell or a whole notebook that runs too long is killed with
SIGKILL, whatever signals it ignores), and makes sure that the sandbox's user has no process
left, reaped and not only signalled, before it runs the next notebook. Nothing a sandbox sends is
unpickled. Locks and scratch copies live in the grader's private folder (:mod:`.private`).
"""

from __future__ import annotations

import fnmatch
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import stat
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing import forkserver
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.engine import messages, private, wire
from autograder.engine.sandbox import child_main

#: Seconds a cell may overrun its limit before the grader kills the process from outside.
GRACE_SECONDS = 5.0
#: Most bytes one notebook may send back in all.
MAX_TOTAL_BYTES = 256 * 2**20
#: Seconds to wait for a sandbox user's last process to be gone before retiring the user.
CLEANUP_SECONDS = 10.0


@dataclass
class NotebookJob:
    """One notebook to run: its steps and where its files come from.

    Attributes:
        key: Identifies the job to the caller (student id and notebook name).
        steps: The rebuilt steps, as plain data.
        files: The student's submission folder, copied into the scratch directory.
    """

    key: tuple[str, str]
    steps: list[dict[str, Any]]
    files: Path


@dataclass
class JobOutcome:
    """What came back from one sandbox.

    Attributes:
        key: The job's key.
        messages: Every message received, in order (:mod:`.messages`).
        killed: Why the grader killed the process (``timeout``), or ``""``.
        exitcode: The process's exit code (negative: the signal that ended it).
        problem: A protocol problem (malformed message, too much data), or ``""``.
        seconds: Wall-clock time of the job.
        phases: Wall-clock seconds by phase, as the grader saw them: ``fork`` (scratch copy,
            fork and isolation, until the sandbox said it started), ``cells`` (code cells),
            ``cases`` (test steps: the student's functions on the visible and hidden cases)
            and ``cleanup`` (from the last message to the scratch folder removed).
        worker: Where it ran: ``""`` here, a Dask worker's address on a cluster.
    """

    key: tuple[str, str]
    messages: list[messages.Message] = field(default_factory=list)
    killed: str = ""
    exitcode: int | None = None
    problem: str = ""
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    worker: str = ""


@dataclass
class _Running:
    job: NotebookJob
    process: Any
    conn: Any
    slot: int
    folder: Path
    started: float
    outcome: JobOutcome
    step_started: float = 0.0
    received: int = 0
    open: bool = True
    last_message: float = 0.0
    step: int | None = None


#: Names left out of a sandbox's copy of a submission (the notebooks travel as rebuilt steps).
IGNORED = (".ipynb_checkpoints", "*.ipynb")


class TooLarge(ValueError):
    """A submission's files add up to more than allowed."""


def submission_files(folder: Path, limit: int | None = None) -> dict[str, bytes]:
    """The files of a submission folder that its sandbox gets, as ``{relative path: bytes}``.

    Regular files only, each opened with ``O_NOFOLLOW``: a symbolic link (to a file or a folder)
    is left out, never followed, since the grader may read what the student may not. No
    ``*.ipynb`` and no ``.ipynb_checkpoints``.

    Raises:
        TooLarge: The files add up to more than ``limit`` bytes.
    """
    files: dict[str, bytes] = {}
    total = 0
    if not folder.is_dir() or folder.is_symlink():
        return files
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _ignored(d)
                         and not os.path.islink(os.path.join(top, d)))
        for name in sorted(names):
            path = os.path.join(top, name)
            try:
                if _ignored(name) or not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:  # gone, or replaced by a link since it was listed
                continue
            with os.fdopen(fd, "rb") as handle:
                data = handle.read() if limit is None else handle.read(limit - total + 1)
            total += len(data)
            if limit is not None and total > limit:
                raise TooLarge(f"the submission's files (notebooks apart) are over "
                               f"{limit // 2**20} MiB")
            files[Path(path).relative_to(folder).as_posix()] = data
    return files


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def write_files(files: dict[str, bytes], target: Path) -> None:
    """Create ``target`` with ``files`` (``{relative posix path: bytes}``) in it; a name that
    would leave ``target`` is refused."""
    target.mkdir()
    for name, data in files.items():
        relative = PurePosixPath(name)
        if (relative.is_absolute() or not relative.parts
                or any(p in ("", ".", "..") for p in relative.parts)):
            raise ValueError(f"unsafe file name {name!r}")
        path = target.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)


def start_server() -> None:
    """Start the warm fork server now (it imports numpy, torch, IPython: a few seconds).

    The server's environment (one thread per BLAS, matplotlib's Agg backend, a private IPython
    folder) is set for its start only: the caller's own environment is restored afterwards, so
    grading from a notebook or a test never changes the kernels the caller starts later.
    """
    server_env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
                  "IPYTHONDIR": str(private.new_folder("ipython"))}
    saved = {name: os.environ.get(name) for name in server_env}
    for name, value in server_env.items():
        os.environ.setdefault(name, value)
    try:
        multiprocessing.get_context("forkserver").set_forkserver_preload(
            ["autograder.engine._preload"])
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _processes_of(uid: int) -> list[tuple[int, int, bool]]:
    """``(pid, parent pid, is a zombie)`` of every process whose real uid is ``uid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status", encoding="utf-8") as handle:
                    fields = dict(line.split(":", 1) for line in handle if ":" in line)
                if int(fields["Uid"].split()[0]) == uid:
                    found.append((int(entry), int(fields["PPid"]),
                                  fields["State"].strip().startswith("Z")))
            except (OSError, ValueError, KeyError):
                continue
    return found


def kill_user(uid: int, seconds: float = CLEANUP_SECONDS) -> bool:
    """SIGKILL every process of a sandbox user (never the grader's own) and wait until none is
    left (zombies count: they hold the user's process limit), reaping those that are ours.

    Returns:
        True when the user has no process left, False when some outlived ``seconds``.
    """
    if uid == os.getuid() or uid == 0:
        return True
    deadline = time.monotonic() + seconds
    while True:
        processes = _processes_of(uid)
        if not processes:
            return True
        if time.monotonic() > deadline:
            return False
        for pid, parent, zombie in processes:
            try:
                if zombie and parent == os.getpid():
                    os.waitpid(pid, os.WNOHANG)
                elif not zombie:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


class Pool:
    """Runs notebook jobs in sandboxes, ``jobs`` at a time.

    Args:
        limits: The limits the sandbox applies (see :class:`~autograder.settings.GradeSettings`).
        jobs: Sandboxes running at once.
        uid_base: First user id of the sandbox users (when running as root).
        hidden_seed: Seed of the hidden cases.
        scratch: Parent folder of the scratch directories (default: a new folder in the
            grader's private folder).
    """

    def __init__(self, limits: dict[str, Any], jobs: int, uid_base: int, hidden_seed: int,
                 scratch: Path | None = None) -> None:
        self.limits = limits
        self.jobs = max(1, jobs)
        self.uid_base = uid_base
        self.hidden_seed = hidden_seed
        self.root = os.geteuid() == 0
        self.scratch = Path(scratch) if scratch else private.new_folder("run")
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.ctx = multiprocessing.get_context("forkserver")
        self.uids: list[int] = []
        self._locks: list[int] = []
        self._next_uid = uid_base
        if self.root:
            while len(self.uids) < self.jobs:
                self.uids.append(self._claim_uid())

    def _claim_uid(self) -> int:
        """Lock the next free sandbox uid, so that two grading runs never share a user."""
        import fcntl

        while True:
            candidate = self._next_uid
            self._next_uid += 1
            fd = private.open_lock(f"uid-{candidate}.lock")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self._locks.append(fd)
            if kill_user(candidate):  # leftovers of a killed earlier run that held this uid
                return candidate

    def _prepare(self, job: NotebookJob, slot: int) -> tuple[Path, dict[str, Any]]:
        folder = Path(tempfile.mkdtemp(prefix="job-", dir=self.scratch))
        work, stage = folder / "work", folder / "stage"
        write_files(submission_files(Path(job.files)), work)
        stage.mkdir()
        uid = self.uids[slot] if self.root else self.uid_base + slot
        if self.root:
            os.chown(work, uid, uid)
            for path in work.rglob("*"):
                os.chown(path, uid, uid, follow_symlinks=False)
            os.chmod(work, 0o700)
        spec = {"steps": job.steps, "limits": self.limits, "uid": uid, "scratch": str(work),
                "stage": str(stage), "hidden_seed": self.hidden_seed}
        return folder, spec

    def _start(self, job: NotebookJob, slot: int) -> _Running:
        folder, spec = self._prepare(job, slot)
        reader, writer = self.ctx.Pipe(duplex=False)
        process = self.ctx.Process(target=child_main, args=(spec, writer), daemon=True,
                                   name=f"sandbox-{slot}")
        process.start()
        writer.close()

        now = time.monotonic()
        return _Running(job, process, reader, slot, folder, now, JobOutcome(job.key), now)

    def _drain(self, run: _Running) -> None:
        while run.open:
            try:
                if not run.conn.poll():
                    return
                data = run.conn.recv_bytes(wire.MAX_MESSAGE_BYTES)
            except (EOFError, OSError) as exc:
                if not isinstance(exc, EOFError) and not run.outcome.problem:
                    run.outcome.problem = f"unreadable message ({exc})"
                    self._kill(run, "")
                run.open = False
                return
            run.received += len(data)
            if run.received > MAX_TOTAL_BYTES:
                run.outcome.problem = "the notebook sent more data than allowed"
                self._kill(run, "")
                run.open = False
                return
            try:
                message = messages.from_data(wire.loads(data))
            except (wire.WireError, messages.MessageError) as exc:
                run.outcome.problem = f"malformed message ({exc})"
                self._kill(run, "")
                run.open = False
                return
            run.outcome.messages.append(message)
            self._clock(run, message)

    def _clock(self, run: _Running, message: messages.Message) -> None:
        """Charge the time since the previous message to its phase."""
        now = time.monotonic()
        phases = run.outcome.phases
        if isinstance(message, messages.Started):
            phases["fork"] = phases.get("fork", 0.0) + now - run.started
        elif run.step is not None and run.last_message:
            kind = "cells" if run.job.steps[run.step]["kind"] == "code" else "cases"
            phases[kind] = phases.get(kind, 0.0) + now - run.last_message
        if isinstance(message, messages.StepStarted):
            run.step_started = now
            if message.index is not None and 0 <= message.index < len(run.job.steps):
                run.step = message.index
        elif isinstance(message, (messages.StepDone, messages.Ended, messages.Fatal)):
            run.step = None
        run.last_message = now

    def _kill(self, run: _Running, why: str) -> None:
        if why and not run.outcome.killed:
            run.outcome.killed = why
        try:
            run.process.kill()
        except (OSError, ValueError):
            pass

    def _finish(self, run: _Running) -> JobOutcome:
        run.process.join()
        self._drain(run)
        run.conn.close()
        if self.root:
            if not kill_user(self.uids[run.slot]):
                self.uids[run.slot] = self._claim_uid()  # retire a user that will not empty
        else:
            try:
                os.killpg(run.process.pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(run.folder, ignore_errors=True)
        run.outcome.exitcode = run.process.exitcode
        now = time.monotonic()
        run.outcome.seconds = now - run.started
        run.outcome.phases["cleanup"] = now - (run.last_message or run.started)
        run.process.close()
        return run.outcome

    def run(self, jobs: Iterable[NotebookJob], done: Callable[[JobOutcome], None]) -> None:
        """Run every job; call ``done`` (in this thread) as each finishes."""
        queue = deque(jobs)
        running: list[_Running] = []
        free = list(range(self.jobs))
        cell_limit = float(self.limits["cell_timeout"]) + GRACE_SECONDS
        total_limit = float(self.limits["submission_timeout"])
        while queue or running:
            while queue and free:
                running.append(self._start(queue.popleft(), free.pop(0)))
            waitables = [r.conn for r in running if r.open] + [r.process.sentinel
                                                               for r in running]
            multiprocessing.connection.wait(waitables, timeout=0.5)
            now = time.monotonic()
            finished = []
            for run in list(running):
                self._drain(run)
                if run.process.exitcode is None:
                    if now - run.step_started > cell_limit or now - run.started > total_limit:
                        self._kill(run, "timeout")
                    continue
                running.remove(run)
                finished.append(self._finish(run))
                free.append(run.slot)
            # Refill the free slots before the caller's work on what finished (verdicts,
            # gradebook), so that no sandbox slot waits for it.
            while queue and free:
                running.append(self._start(queue.popleft(), free.pop(0)))
            for outcome in finished:
                done(outcome)

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        for fd in self._locks:
            os.close(fd)
