"""Grade on a Dask distributed cluster: each notebook runs in the same sandbox on a worker.

:class:`ClusterPool` has :class:`~autograder.engine.pool.Pool`'s contract. Each job becomes one
Dask task (:func:`run_on_worker`) whose argument is plain data: the rebuilt steps, the limits and
the submission's files as ``{relative path: bytes}`` (the course's files never travel, and the
worker needs none of them). The worker writes the files into its private folder, runs the job in
a local :class:`~autograder.engine.pool.Pool` of one sandbox (forked from a warm server started
once per worker process) and returns one bytes blob of JSON: the sandbox's messages and how the
process ended. This process decodes it as strictly as the local pool decodes a pipe, so the
verdicts, ``results/``, the gradebook and the reports are all decided and written here, as
locally, and a killed client resumes the same way.

A worker that dies mid-task loses nothing: the scheduler runs the task again elsewhere (up to its
``distributed.scheduler.allowed-failures``), and ``done`` is called once per job. Dask is imported
only in this module: grading without ``--scheduler`` never imports it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from autograder.engine import messages, private, wire
from autograder.engine.pool import (
    JobOutcome,
    NotebookJob,
    Pool,
    TooLarge,
    start_server,
    write_files,
)
from autograder.engine.pool import submission_files as pool_files
from autograder.settings import SettingsError

#: Most bytes of files one submission may send to a worker.
MAX_FILES_BYTES = 64 * 2**20
#: Times a task that raised is run again (a worker that dies is the scheduler's business:
#: ``distributed.scheduler.allowed-failures``, 3 by default).
RETRIES = 1
_FIELDS = {"key", "messages", "killed", "exitcode", "problem", "seconds", "phases", "worker"}
DAEMON_HELP = ("the Dask worker runs as a daemonic process, which may not start sandboxes: start "
               "workers with `dask worker --no-nanny ...`, or set "
               "DASK_DISTRIBUTED__WORKER__DAEMON=False (config distributed.worker.daemon: False) "
               "in the environment of `dask worker`")

_server_lock = threading.Lock()
_server_started = False


class ClusterError(RuntimeError, SettingsError):
    """The cluster cannot grade: the scheduler is unreachable, or its workers cannot run
    sandboxes. (Also a :class:`~autograder.settings.SettingsError`: the ``--scheduler`` setting
    points nowhere usable, and the command line reports it as one, with exit code 2.)"""


class _Malformed(ValueError):
    """A worker's result does not have the expected shape."""


# -- the client side ------------------------------------------------------------------------


def submission_files(folder: Path) -> dict[str, bytes]:
    """The files a task carries: those a local run copies (:func:`.pool.submission_files`),
    at most :data:`MAX_FILES_BYTES` in all.

    Raises:
        ValueError: The files add up to more than :data:`MAX_FILES_BYTES`.
    """
    try:
        return pool_files(folder, MAX_FILES_BYTES)
    except TooLarge as exc:
        raise ValueError(f"{exc}, more than a cluster task carries: grade this student "
                         f"without --scheduler") from None


def decode_outcome(blob: Any, key: tuple[str, str]) -> JobOutcome:
    """A worker's result as a :class:`JobOutcome`; anything malformed becomes its ``problem``
    (the notebook is then ``crashed``), never an exception."""
    try:
        if type(blob) is not bytes:
            raise _Malformed(f"a {type(blob).__name__}, not bytes")
        data = wire.loads(blob)
        if type(data) is not dict or set(data) != _FIELDS:
            raise _Malformed("not a result record")
        if data["key"] != list(key):
            raise _Malformed(f"the result of another job ({str(data['key'])[:200]})")
        if type(data["messages"]) is not list:
            raise _Malformed("messages is not a list")
        outcome = JobOutcome(key, [messages.from_data(m) for m in data["messages"]])
        outcome.killed = _text(data["killed"], "killed", 40)
        exitcode = data["exitcode"]
        if exitcode is not None and type(exitcode) is not int:
            raise _Malformed("exitcode is not a number")
        outcome.exitcode = exitcode
        outcome.problem = _text(data["problem"], "problem", 2000)
        outcome.seconds = _seconds(data["seconds"], "seconds")
        if type(data["phases"]) is not dict:
            raise _Malformed("phases is not a record")
        outcome.phases = {_text(k, "phase", 40): _seconds(v, "phase")
                          for k, v in data["phases"].items()}
        outcome.worker = _text(data["worker"], "worker", 300)
        return outcome
    except (wire.WireError, messages.MessageError, _Malformed) as exc:
        return JobOutcome(key, problem=f"malformed result from the cluster worker ({exc})"[:2000])


def _text(value: Any, what: str, limit: int) -> str:
    if type(value) is not str:
        raise _Malformed(f"{what} is not text")
    return value[:limit]


def _seconds(value: Any, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        raise _Malformed(f"{what} is not a number of seconds")
    return float(value)


class ClusterPool:
    """Runs notebook jobs on a Dask cluster, with :class:`~autograder.engine.pool.Pool`'s
    contract.

    Args:
        scheduler: The scheduler's address, ``tcp://HOST:PORT``.
        limits: The limits the sandbox applies (see :class:`~autograder.settings.GradeSettings`).
        uid_base: First user id of the sandbox users on each worker (when it runs as root).
        hidden_seed: Seed of the hidden cases.

    Raises:
        ClusterError: The scheduler cannot be reached within Dask's connect timeout
            (``distributed.comm.timeouts.connect``, 30 s by default), or a worker cannot import
            the grader or start sandboxes.
    """

    def __init__(self, scheduler: str, limits: dict[str, Any], uid_base: int,
                 hidden_seed: int) -> None:
        try:
            import dask
            import distributed
        except ImportError as exc:
            raise ClusterError(f"grading on a cluster needs dask and distributed "
                               f"(requirements.txt): {exc}") from None
        self.scheduler = scheduler
        self.limits, self.uid_base, self.hidden_seed = dict(limits), uid_base, hidden_seed
        #: Part of every task's key: tasks of two runs (a killed client's, say) never meet.
        self.token = uuid.uuid4().hex[:12]
        timeout = dask.config.get("distributed.comm.timeouts.connect")
        try:
            self.client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, a bad address...
            raise ClusterError(f"could not reach the Dask scheduler at {scheduler} "
                               f"({type(exc).__name__}: {exc})") from None
        try:
            self._check_workers()
        except BaseException:
            self.client.close()
            raise

    def _check_workers(self) -> None:
        """Fail before any student is graded when a worker cannot run sandboxes (those that
        join later are checked by each task)."""
        try:
            states = self.client.run(worker_state)
        except Exception as exc:  # noqa: BLE001 - e.g. ModuleNotFoundError on the worker
            raise ClusterError(
                f"the workers of the Dask scheduler at {self.scheduler} cannot run the grader "
                f"({type(exc).__name__}: {exc}): start them with this repository's "
                f"environment (see the README)") from None
        daemonic = sorted(address for address, state in states.items() if state["daemon"])
        if daemonic:
            raise ClusterError(f"{', '.join(daemonic)}: {DAEMON_HELP}")
        if not states:
            print(f"no Dask worker is connected to {self.scheduler} yet: the notebooks wait "
                  f"for one", file=sys.stderr)
        unprivileged = sorted(address for address, state in states.items() if not state["root"])
        if unprivileged:
            print(f"Dask workers not running as root (their sandboxes isolate less, see the "
                  f"report): {', '.join(unprivileged)}", file=sys.stderr)

    def _window(self) -> int:
        """Tasks in flight: two per worker thread (so none waits), at least four."""
        try:
            threads = sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001 - the next result says what went wrong
            threads = 0
        return max(4, 2 * threads)

    def _payload(self, job: NotebookJob) -> dict[str, Any]:
        return {"key": list(job.key), "steps": job.steps, "limits": self.limits,
                "uid_base": self.uid_base, "hidden_seed": self.hidden_seed,
                "files": submission_files(Path(job.files))}

    def run(self, jobs: Iterable[NotebookJob], done: Callable[[JobOutcome], None]) -> None:
        """Run every job on the cluster; call ``done`` (in this thread) once per job, as each
        result arrives.

        Raises:
            ClusterError: The scheduler was lost: the jobs not finished are not reported (their
                students get no result, and the same command grades them later).
        """
        from distributed import as_completed

        queue = deque(jobs)
        running: dict[Any, tuple[str, str]] = {}
        reported: set[tuple[str, str]] = set()
        arrived = as_completed(loop=self.client.loop)

        def report(outcome: JobOutcome) -> None:
            if outcome.key not in reported:
                reported.add(outcome.key)
                done(outcome)

        def refill() -> None:
            window = self._window()
            while queue and len(running) < window:
                job = queue.popleft()
                try:
                    payload = self._payload(job)
                except (OSError, ValueError) as exc:
                    report(JobOutcome(job.key, problem=str(exc)[:2000]))
                    continue
                name = f"grade-{job.key[0]}-{job.key[1]}-{self.token}"
                future = self.client.submit(run_on_worker, payload, key=name, pure=False,
                                            retries=RETRIES)
                running[future] = job.key
                arrived.add(future)

        refill()
        for future in arrived:
            key = running.pop(future)
            outcome = self._outcome(future, key)
            future.release()
            report(outcome)
            refill()

    def _outcome(self, future: Any, key: tuple[str, str]) -> JobOutcome:
        if future.status == "cancelled" or self.client.status != "running":
            raise ClusterError(f"lost the Dask scheduler at {self.scheduler} while grading "
                               f"{key[0]}: grade again to finish the students left (those "
                               f"finished are kept)")
        try:
            if future.status == "error":
                exc = future.exception()
                name = type(exc).__name__
                why = ("every worker that ran it died" if name == "KilledWorker"
                       else "the task failed")
                return JobOutcome(key, problem=f"the cluster could not grade this notebook: "
                                               f"{why} ({name}: {exc})"[:2000])
            return decode_outcome(future.result(), key)
        except Exception as exc:  # noqa: BLE001 - one notebook must not end the class
            if future.status == "cancelled":
                raise ClusterError(f"lost the Dask scheduler at {self.scheduler}") from None
            return JobOutcome(key, problem=f"no result from the cluster ({type(exc).__name__}: "
                                           f"{exc})"[:2000])

    def close(self) -> None:
        """Disconnect (tasks still queued are forgotten by the scheduler)."""
        self.client.close()


# -- the worker side ------------------------------------------------------------------------


def worker_state() -> dict[str, Any]:
    """What the client checks of each worker before it sends any task."""
    return {"daemon": bool(multiprocessing.current_process().daemon), "root": os.geteuid() == 0}


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:  # noqa: BLE001 - called outside a worker (tests)
        return ""


def _ensure_server() -> None:
    """Start the warm fork server once per worker process."""
    global _server_started
    with _server_lock:
        if not _server_started:
            start_server()
            _server_started = True


def _run_payload(payload: dict[str, Any], key: tuple[str, str]) -> JobOutcome:
    if multiprocessing.current_process().daemon:
        return JobOutcome(key, problem=DAEMON_HELP)
    _ensure_server()
    started = time.monotonic()
    folder = private.new_folder("run", remove_at_exit=False)
    try:
        files = folder / "files"
        write_files(payload["files"], files)
        pool = Pool(payload["limits"], 1, int(payload["uid_base"]), int(payload["hidden_seed"]),
                    scratch=folder / "pool")
        outcomes: list[JobOutcome] = []
        ready = time.monotonic()
        try:
            pool.run([NotebookJob(key, payload["steps"], files)], outcomes.append)
        finally:
            pool.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    outcome = outcomes[0]
    # Writing the files and claiming a sandbox user count as the sandbox's start-up.
    outcome.phases["fork"] = outcome.phases.get("fork", 0.0) + ready - started
    outcome.seconds = time.monotonic() - started
    return outcome


def run_on_worker(payload: dict[str, Any]) -> bytes:
    """The task: run one notebook in a sandbox on this worker; return its outcome as JSON bytes
    (messages as :func:`~autograder.engine.messages.to_data`), never raising."""
    key = (str(payload["key"][0]), str(payload["key"][1]))
    try:
        outcome = _run_payload(payload, key)
    except Exception as exc:  # noqa: BLE001 - reported as the notebook's problem
        outcome = JobOutcome(key, problem=f"the cluster worker failed: {type(exc).__name__}: "
                                          f"{exc}"[:2000])
    data = {"key": list(key), "messages": [], "killed": outcome.killed,
            "exitcode": outcome.exitcode, "problem": outcome.problem,
            "seconds": outcome.seconds, "phases": outcome.phases, "worker": _worker_address()}
    try:
        data["messages"] = [messages.to_data(m) for m in outcome.messages]
        blob = wire.dumps(data)
    except (TypeError, ValueError) as exc:
        blob = b""
        data.update(messages=[], problem=f"the cluster worker could not encode the result "
                                         f"({type(exc).__name__}: {exc})"[:2000])
    if not blob or len(blob) > wire.MAX_MESSAGE_BYTES:
        if blob:
            data.update(messages=[], problem=f"the notebook sent more than "
                                             f"{wire.MAX_MESSAGE_BYTES // 2**20} MiB of "
                                             f"results, more than a cluster task returns")
        blob = wire.dumps(data)
    return blob
