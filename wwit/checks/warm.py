"""A warm process for ``python -m wwit.checks``: the libraries stay loaded between two checks.

A fresh Python process spends most of a check importing torch, matplotlib, scikit-learn and
torch's optimizer machinery before the notebook's own cells run. After a check run from a
terminal, the command starts a *warm process* in the background: it imports those libraries once
and then waits. The next check connects to it, and it forks a copy of itself that runs the cells
(:func:`wwit.checks.runner.serve_job`, exactly as a fresh process would), so that check starts
with everything already imported. The warm process exits by itself after :data:`IDLE_S` seconds
without a check, and ``python -m wwit.checks --stop-warm`` stops it at once.

* Only on Linux (``fork`` after importing torch and numpy is what their own data loaders do
  there), and by default only when the command runs in a terminal: a script or a test suite gets
  a fresh process and leaves nothing behind. ``WWIT_CHECK_WARM=1`` or ``0`` forces it on or off.
* It preloads third-party libraries only: the course's own modules (``wwit``, the checks) are
  imported by each check, so an edited file is never stale. A warm process serves only the
  Python, ``sys.path``, environment and installed packages it was started with (they name its
  socket): after a ``pip install`` or with another environment a new one starts.
* Its socket lives in a folder only this user can open (mode 0700), since whoever connects runs
  code as this user. Each check gets its own copy (a fork): nothing one check does reaches the
  next. Random generators are reseeded in each copy, as in a fresh process.

This module ships in the student kit and imports only the standard library at module level.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wwit.checks import runner

#: Seconds a warm process waits for a check before it exits.
IDLE_S = float(os.environ.get("WWIT_CHECK_IDLE_S", 600))
#: The environment variable that forces the warm process on (``1``) or off (``0``).
SWITCH = "WWIT_CHECK_WARM"
#: Seconds a check waits to connect to a warm process.
CONNECT_TIMEOUT_S = 2.0
#: What a warm process imports before its first check (third-party libraries only).
PRELOAD = ("numpy", "torch", "torch.nn", "torch.nn.functional", "torch.optim", "torch._dynamo",
           "torch.func", "matplotlib", "matplotlib.pyplot", "sklearn.datasets",
           "sklearn.model_selection")
#: Environment variables that change from one shell to the next without changing a check.
_VOLATILE = {"PWD", "OLDPWD", "SHLVL", "_", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES",
             "MAKE_TERMOUT", "MAKE_TERMERR", "COLUMNS", "LINES", SWITCH}
_HERE = Path(__file__).resolve().parent


def supported() -> bool:
    """True where a warm process can serve checks (Linux: fork and Unix sockets)."""
    return sys.platform.startswith("linux") and hasattr(socket, "AF_UNIX")


def wanted() -> bool:
    """Whether this check may use (and start) a warm process: ``WWIT_CHECK_WARM`` when set,
    else when the command runs in a terminal."""
    if not supported():
        return False
    setting = os.environ.get(SWITCH, "").strip().lower()
    if setting in ("0", "no", "false", "off"):
        return False
    if setting in ("1", "yes", "true", "on"):
        return True
    streams = (sys.stdin, sys.stdout)
    return all(stream is not None and stream.isatty() for stream in streams)


def folder() -> Path | None:
    """This user's private folder for the sockets (created mode 0700), or None when it is not
    private."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(base) / f"wwit-checks-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
            or info.st_mode & 0o077):
        return None
    return path


def _mtime(path: str | Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def key() -> str:
    """What a warm process must share with a check to serve it, as a short hash: Python,
    ``sys.path`` and its folders' modification times (an install changes them), the
    environment, and this package's files."""
    paths = [os.path.abspath(p) for p in sys.path]
    env = sorted((k, v) for k, v in os.environ.items() if k not in _VOLATILE)
    own = sorted((p.name, _mtime(p)) for p in [*_HERE.glob("*.py"), _HERE.parent / "__init__.py"])
    text = json.dumps([sys.executable, sys.version, paths, [_mtime(p) for p in paths], env, own])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def socket_path() -> Path | None:
    """Where this check's warm process listens, or None without a private folder."""
    home = folder()
    path = None if home is None else home / f"{key()}.sock"
    return path if path is not None and len(os.fsencode(path)) < 100 else None  # AF_UNIX limit


# ---------------------------------------------------------------------------------------------
# The check's side.
# ---------------------------------------------------------------------------------------------


def connect() -> runner.Child | None:
    """A :class:`~wwit.checks.runner.Child` served by a warm process, or None (none running)."""
    path = socket_path()
    if path is None or not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT_S)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    sock.settimeout(None)
    stream = sock.makefile("rb")

    def send_job(data: bytes) -> None:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)

    child = runner.Child(stream, send_job)
    child.shutting.append(lambda: sock.shutdown(socket.SHUT_RDWR))
    child.closing.append(sock)
    return child


def start() -> None:
    """Start a warm process in the background for the checks that follow (no wait)."""
    path = socket_path()
    if path is None:
        return
    code = f"from wwit.checks.warm import serve; serve({str(path)!r}, {sys.path!r})"
    with contextlib.suppress(OSError):
        subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True,
                         env=dict(os.environ, MPLBACKEND="Agg"))


def stop_all() -> int:
    """Stop every warm process of this user; return how many were stopped."""
    home = folder()
    stopped = 0
    for path in sorted(home.glob("*.sock")) if home is not None else []:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(str(path))
            sock.sendall(b'{"stop": true}\n')
            sock.shutdown(socket.SHUT_WR)
            stopped += 1
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()  # nobody listens: a leftover
        finally:
            sock.close()
    return stopped


# ---------------------------------------------------------------------------------------------
# The warm process.
# ---------------------------------------------------------------------------------------------


def _bind(path: Path) -> socket.socket | None:
    """Listen on ``path``, or None when another warm process already does."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(2):
        try:
            sock.bind(str(path))
            sock.listen(16)
            return sock
        except OSError:
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(path))
                return None  # alive: it serves the checks
            except OSError:
                with contextlib.suppress(OSError):
                    path.unlink()  # a leftover of a process that died
            finally:
                probe.close()
    return None


def _preload() -> object:
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    return runner._make_shell()


def _stop(signum, frame):
    raise SystemExit(0)


def serve(path: str, paths: list[str]) -> None:
    """The warm process: listen on ``path``, fork a copy per check, exit when idle or on
    ``SIGTERM``."""
    sys.path[:] = paths
    os.chdir("/")
    where = Path(path)
    sock = _bind(where)
    if sock is None:
        return
    inode = os.stat(where).st_ino
    ready = where.with_suffix(".ready")
    signal.signal(signal.SIGTERM, _stop)
    try:
        shell = _preload()
        gc.collect()
        gc.freeze()  # the copies share these pages instead of touching them
        ready.write_text(f"{os.getpid()}\n", encoding="utf-8")  # loaded (for benchmarks)
        _loop(sock, where, inode, shell)
    finally:
        sock.close()
        with contextlib.suppress(OSError):
            if os.stat(where).st_ino == inode:  # not a newer warm process's socket
                where.unlink()
                ready.unlink()


def _loop(sock: socket.socket, path: Path, inode: int, shell) -> None:
    workers: dict[int, socket.socket] = {}
    idle_since = time.monotonic()
    while True:
        while workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = workers.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)})
                                 .encode() + b"\n")
                conn.close()
            idle_since = time.monotonic()
        if not workers and time.monotonic() - idle_since > IDLE_S:
            return
        try:
            if os.stat(path).st_ino != inode:
                return  # replaced: checks no longer find this process
        except OSError:
            return  # removed
        ready, _, _ = select.select([sock], [], [], 0.2)
        if not ready:
            continue
        conn, _ = sock.accept()
        idle_since = time.monotonic()
        pid = os.fork()
        if pid == 0:
            sock.close()
            for other in workers.values():
                other.close()
            _worker(conn, shell)  # never returns
        workers[pid] = conn


def _worker(conn: socket.socket, shell) -> None:
    """In the forked copy: read the job, run it as a fresh process would, exit."""
    try:
        os.setpgid(0, 0)  # its own group: a check that is stopped takes its children along
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        job = json.loads(conn.makefile("rb").readline() or b"{}")
        if "stop" in job:
            os.kill(os.getppid(), signal.SIGTERM)
            os._exit(0)
        os.environ.clear()
        os.environ.update(job.get("env") or {})
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            numpy.random.seed()  # as a fresh process: not the warm process's generator state
        runner.private_stdout().close()
        runner.quiet_stdin()
        signal.signal(signal.SIGALRM, runner._on_alarm)

        def send(**message) -> None:
            conn.sendall((json.dumps(message) + "\n").encode("utf-8"))

        send(ready=True, pid=os.getpid())
        runner.serve_job(shell, job, send)
    except BaseException:  # noqa: BLE001 - the check reports a process that stops early
        os._exit(1)
    os._exit(0)
