"""Running a notebook's code cells for a self-check: one child Python process, no Jupyter kernel.

``python -m wwit.checks`` needs only each cell's error, not its outputs, so the cells run in an
IPython ``InteractiveShell`` (magics such as ``%matplotlib inline`` work, as in a kernel) inside
a child process started for the check: no kernel, no ZeroMQ, no message protocol. The child is
started before the notebook is read, so its start-up overlaps the parent's work.

The parent (:func:`run_cells`) sends the job (the working directory, the cells, the time per
cell) on the child's stdin and reads one JSON line per event from the child's stdout: the child
moves its own file descriptor 1 to ``os.devnull`` first, so nothing a cell prints, even from C
code, can mix with the messages. What the child prints to stderr (library warnings) is kept in
a temporary file and shown only when the child fails to start.

* A cell that raises is recorded as ``(ename, evalue)`` (``type(exc).__name__``, ``str(exc)``),
  exactly as a kernel reports it, and the next cell runs.
* A cell that runs longer than the time per cell is interrupted in the child (``SIGALRM``) and
  recorded as ``CellTimeoutError``; if the child does not come back (stuck in C code, or no
  ``SIGALRM``: Windows), the parent stops the child a few seconds later and records the same
  error, and the cells after it are not run.
* A cell that ends the process (``os._exit``, a crash, the memory killer) leaves the cells
  after it not run, and :class:`Outcome` says why the process stopped.

Matplotlib uses the non-interactive ``Agg`` backend (no window ever opens) and, as the inline
backend of a kernel does, every figure is closed after each cell. The working directory is the
notebook's folder, which is also first on ``sys.path``.

This module ships in the student kit: it imports only the standard library at module level
(the child imports IPython).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Seconds the child may take to start (import IPython, create its shell) before it is stopped.
START_TIMEOUT_S = 120.0
#: Seconds the parent waits past a cell's time limit for the child to interrupt it itself.
GRACE_S = 5.0
#: The exception name of a cell that ran past its time limit (as nbclient named it).
TIMEOUT_ERROR = "CellTimeoutError"

_CHILD = "from wwit.checks.runner import child_main; child_main()"


@dataclass
class Outcome:
    """What happened to the cells sent to the child.

    Attributes:
        errors: ``index -> (ename, evalue)`` for each cell that ran and raised.
        ran: Indices of the cells that finished (with or without an error), in order.
        stopped: ``""`` when every cell ran; otherwise why the child stopped before the end
            (``it was killed by SIGKILL (out of memory?)``).
        stopped_at: The index of the cell that was running when the child stopped, or None.
    """

    errors: dict[int, tuple[str, str]] = field(default_factory=dict)
    ran: list[int] = field(default_factory=list)
    stopped: str = ""
    stopped_at: int | None = None


class RunnerError(RuntimeError):
    """The child process could not start or broke the protocol (not the notebook's fault)."""


def timeout_message(timeout: float) -> str:
    """The ``evalue`` of a cell that ran past ``timeout`` seconds."""
    return f"the cell ran longer than {timeout:g} s"


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it did not answer and was stopped"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if -code == getattr(signal, "SIGKILL", 9) else ""
        return f"it was killed by {name}{hint}"
    return f"it exited with code {code}"


class Child:
    """A process that runs cells and reports on a stream of JSON lines.

    :meth:`start` starts a fresh child process (cold); :mod:`.warm` makes one from a warm
    process instead. Either way, :meth:`run` runs the cells and :meth:`stop` ends it.
    """

    proc: subprocess.Popen | None = None  # a fresh child's process (None: a warm one's copy)

    def __init__(self, stream, send_job, stderr: io.BufferedRandom | None = None) -> None:
        self._send_job = send_job
        self._stderr = stderr
        self._stream = stream
        self.exit_code: int | None = None
        self.pid: int | None = None
        self.closing: list = []  # what else to close with the stream (a socket)
        self.shutting: list = []  # what ends the stream before it is closed
        self._ended = False
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def start(cls) -> Child:
        """Start a fresh child process (it imports IPython while the caller reads the
        notebook)."""
        env = dict(os.environ, MPLBACKEND="Agg")
        stderr = tempfile.TemporaryFile()
        proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=stderr, env=env)

        def send_job(data: bytes) -> None:
            proc.stdin.write(data)
            proc.stdin.close()

        child = cls(proc.stdout, send_job, stderr)
        child.proc = proc
        return child

    def _read(self) -> None:
        try:
            for line in self._stream:
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        self._lines.put(b"")  # end of stream

    def _message(self, deadline: float) -> dict | None:
        """The next message, None at the end of the stream; TimeoutError past ``deadline``."""
        try:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError from None
        if not line:
            return None
        return json.loads(line)

    def _stderr_tail(self, lines: int = 5) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def _kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
        elif self.pid is not None and self.exit_code is None:
            try:  # a warm process's copy leads its own process group
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def _wait(self, timeout: float = 10) -> int | None:
        """The child's exit code once it has ended (None if unknown)."""
        if self.proc is not None:
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        deadline = time.monotonic() + timeout
        while self.exit_code is None:  # the warm process reports it, then closes the stream
            try:
                message = self._message(deadline)
            except TimeoutError:
                break
            if message is None:
                break
            self.exit_code = message.get("exit", self.exit_code)
        return self.exit_code

    def stop(self) -> int | None:
        """Stop the child (if it still runs) and return its exit code (None when unknown)."""
        self._kill()
        code = None
        if self.proc is not None or (self.pid is not None and not self._ended):
            code = self._wait()
        for shutdown in self.shutting:
            with contextlib.suppress(OSError):
                shutdown()
        # A process the cells started may still hold the stream open: the reader thread may
        # then block for ever, and closing the stream under it would wait on it.
        self._reader.join(timeout=1)
        streams = [getattr(self.proc, "stdin", None), self._stderr, *self.closing]
        if not self._reader.is_alive():
            streams.insert(0, self._stream)
        for stream in streams:
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return code

    def run(self, cells: Sequence[tuple[int, str]], cwd: str, timeout: float) -> Outcome:
        """Run ``cells`` (``(index, source)``) in order in working directory ``cwd``.

        Args:
            cells: The code cells to run, with the indices their results are reported under.
            cwd: The working directory (the notebook's folder).
            timeout: Seconds each cell may run.

        Raises:
            RunnerError: The child could not start.
        """
        job = {"cwd": cwd, "cells": [list(c) for c in cells], "timeout": timeout,
               "path": [os.path.abspath(p) for p in sys.path],
               "env": dict(os.environ, MPLBACKEND="Agg")}
        outcome = Outcome()
        try:
            self._send_job(json.dumps(job).encode("utf-8") + b"\n")
        except OSError:
            pass  # the child is gone: reported below
        deadline = time.monotonic() + START_TIMEOUT_S
        running: int | None = None
        started = False
        while True:
            try:
                message = self._message(deadline)
            except TimeoutError:
                message = {"hung": True}
            if message is not None and "exit" in message:
                self.exit_code = message["exit"]
                continue
            if message is not None and "end" in message:
                self._ended = True
                return outcome
            if message is None or "hung" in message:
                if message is not None:
                    self._kill()
                code = self._wait()
                if not started:
                    detail = self._stderr_tail() if message is None else "it did not start"
                    raise RunnerError(f"the Python process that runs the notebook failed to "
                                      f"start ({_exit_reason(code)}): {detail}")
                if message is not None and running is not None:
                    outcome.errors[running] = (TIMEOUT_ERROR, timeout_message(timeout))
                    outcome.ran.append(running)
                    outcome.stopped = (f"the cell ran longer than {timeout:g} s and did not "
                                       "stop when interrupted, so the process was stopped")
                else:
                    outcome.stopped = _exit_reason(code)
                outcome.stopped_at = running
                return outcome
            if "ready" in message:
                started = True
                self.pid = message.get("pid")
            elif "start" in message:
                running = message["start"]
                deadline = time.monotonic() + timeout + GRACE_S
            elif "done" in message:
                index = message["done"]
                if message.get("error"):
                    ename, evalue = message["error"]
                    outcome.errors[index] = (ename, evalue)
                outcome.ran.append(index)
                running = None
                deadline = time.monotonic() + START_TIMEOUT_S


# ---------------------------------------------------------------------------------------------
# The child.
# ---------------------------------------------------------------------------------------------


class CellTimeoutError(BaseException):
    """Raised in a cell by the per-cell alarm (a ``BaseException``: ``except Exception`` in the
    student's code does not swallow it)."""


class _Discard(io.TextIOBase):
    """Where a cell's ``print`` goes: nowhere (a self-check reports errors only)."""

    encoding = "utf-8"
    errors = "replace"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)

    def isatty(self) -> bool:
        return False


def plain_shell():
    """An IPython shell with no history, no colours and no printed tracebacks: errors are
    reported as data. The grader's sandbox runs cells in the same shell."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "NoColor"
    config.InteractiveShell.xmode = "Plain"
    shell = InteractiveShell.instance(config=config)
    shell.showtraceback = lambda *a, **k: None  # errors are reported as data, not printed
    return shell


def _make_shell():
    shell = plain_shell()
    shell.display_formatter.active_types = ["text/plain"]  # no figure is rendered to PNG
    shell.enable_gui = lambda gui=None: None  # no event loop: nothing is shown on a screen
    shell.enable_matplotlib = _matplotlib_magic
    return shell


def _matplotlib_magic(gui=None):
    """``%matplotlib`` (any backend, ``inline`` included): the non-interactive ``Agg``
    backend, so that no window opens; figures are closed after each cell, as inline does."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    return gui, "agg"


def _close_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # noqa: BLE001, S110 - a broken pyplot must not fail the check
            pass


def _on_alarm(signum, frame):
    raise CellTimeoutError


def _run_cell(shell, source: str, timeout: float) -> tuple[str, str] | None:
    """Run one cell; its error as ``(ename, evalue)``, or None."""
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = _Discard()
    alarm = hasattr(signal, "setitimer")
    if alarm:
        signal.setitimer(signal.ITIMER_REAL, timeout)
    error: BaseException | None = None
    try:
        result = shell.run_cell(source, store_history=True, silent=False)
        error = result.error_before_exec or result.error_in_exec
        del result
    except BaseException as exc:  # noqa: BLE001 - the alarm can fire outside run_cell's guard
        error = exc
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
    _close_figures()
    if error is None:
        return None
    if isinstance(error, CellTimeoutError):
        return TIMEOUT_ERROR, timeout_message(timeout)
    try:
        return type(error).__name__, str(error)
    except BaseException:  # noqa: BLE001 - a __str__ that raises
        return type(error).__name__, ""


def serve_job(shell, job: dict, send) -> None:
    """Run a job's cells in ``shell`` (in the process that runs them), reporting with
    ``send(**message)``: ``start``, then ``done`` with the error, per cell, then ``end``."""
    start_dir = os.getcwd()
    cwd = os.path.abspath(job.get("cwd") or start_dir)
    os.chdir(cwd)
    # As in a kernel started in the notebook's folder; the folder the check was started from
    # stays reachable (last), for a course package found only there.
    path = job.get("path") or sys.path
    sys.path[:] = [cwd] + [p for p in path if p not in ("", cwd)] + [start_dir]
    timeout = float(job.get("timeout", 60))
    for index, source in job.get("cells", []):
        send(start=index)
        error = _run_cell(shell, source, timeout)
        send(done=index, error=error)
    send(end=True)


def private_stdout():
    """Move file descriptor 1 to ``os.devnull`` (what C code prints cannot reach the
    messages) and return a text stream on the old one."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.close(devnull)
    return out


def quiet_stdin() -> None:
    """``input()`` in a cell gets end-of-file, as in a kernel that does not allow stdin."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - kept open on purpose


def child_main() -> None:
    """A fresh child: read the job from stdin, report on the private stdout."""
    out = private_stdout()

    def send(**message) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, _on_alarm)
    shell = _make_shell()
    job = json.loads(sys.stdin.buffer.readline() or b"{}")
    quiet_stdin()
    send(ready=True, pid=os.getpid())
    serve_job(shell, job, send)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter shutdown (atexit, finalizers): the results are sent
