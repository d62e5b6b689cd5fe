"""The sandboxed process that runs one submitted notebook, and nothing else.

Each notebook runs in a fresh process forked from a warm fork server
(:mod:`autograder.engine._preload`) and used once. Before any student code runs,
:func:`isolate` applies what the operating system allows:

* a new network namespace (no network);
* a new PID namespace of which the sandbox is the first process: when it ends, or when the
  grader dies (parent-death signals down the chain grader -> fork server -> sandbox), the kernel
  kills and reaps every process the notebook started, so nothing outlives it;
* a new root made of an allow-list (:func:`_enter_new_root`): the Python environment and the
  system libraries read-only, the scratch copy of the submission, private empty ``/tmp``,
  ``/var/tmp`` and ``/dev/shm``, a few devices and its own ``/proc``. Nothing else of the machine
  is visible: no course, no submissions, no output folder, no home folder, wherever they lie.
  (Bind mounts of our own rather than bubblewrap: bubblewrap would exec a fresh interpreter and
  lose the warm fork server's imports, 1-2 s per notebook);
* an unprivileged user id of its own (``sandbox_uid + slot``) with ``no_new_privs``;
* resource limits: address space, CPU time, processes, file size, no core dumps;
* a scratch copy of the submission as working directory, output captured and capped.

It then runs the :class:`~autograder.engine.rebuild.Step` s: code cells through IPython (each with a
timeout), and test steps by calling the student's functions on the checks' visible and hidden
cases. What comes back to the grader is data only (:mod:`autograder.engine.wire`): the student's
return values, exception names and messages, timeouts, and runtime tamper observations. The
grader compares the values with the expected ones in its own process.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import io
import os
import resource
import signal
import sys
from typing import Any

from autograder.engine import messages, wire
from autograder.engine.messages import (
    CaseResult,
    Ended,
    ErrorReport,
    ExerciseResult,
    Fatal,
    Started,
    StepDone,
    StepStarted,
)

CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWUSER = 0x00020000, 0x40000000, 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 2, 38

#: System folders the sandbox sees read-only (those that exist; links are kept as links).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
#: Device files bound into the sandbox's ``/dev``.
DEVICES = ("null", "zero", "full", "random", "urandom")

#: Modules (and classes) whose functions a submission must not replace.
WATCHED_MODULES = ("numpy", "numpy.linalg", "numpy.random", "numpy.testing", "torch",
                   "torch.nn.functional", "torch.linalg", "math", "builtins", "json")


class SandboxTimeout(BaseException):  # noqa: N818 - mirrors TimeoutError, BaseException on purpose
    """Raised in the sandbox when a cell or a case runs past its time limit."""


def preload() -> None:
    """Import everything a submission is likely to use (runs once, in the fork server)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    import torch
    import torch._dynamo  # noqa: F401 - the first optimizer would import it (about 1 s)
    from IPython.core.interactiveshell import InteractiveShell  # noqa: F401

    import wwit.checks.runner  # noqa: F401 - the sandbox's shell (plain_shell)
    from autograder.checks import assignment_modules

    assignment_modules()

    torch.set_num_threads(1)
    # Everything imported so far lives as long as the server: out of the collector's sight, a
    # sandbox's full collection after each cell scans only what the notebook made (torch alone
    # is about 60 ms a scan, paid per cell).
    gc.collect()
    gc.freeze()


# ---------------------------------------------------------------------------------------------
# Isolation (runs as the grader's user, before any student code).
# ---------------------------------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    def enc(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    if libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _read_only_paths() -> list[str]:
    """The system folders, the Python installation and environment, and the course's public
    ``wwit`` package (the notebooks may import it); nested paths are left to their parent."""
    import wwit

    # sys.path's standard library and site-packages lie below these prefixes.
    python = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    python.add(os.path.dirname(os.path.realpath(wwit.__file__)))
    paths = [p for p in SYSTEM_PATHS if os.path.lexists(p)] + sorted(python)
    keep: list[str] = []
    for path in paths:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in keep
                   if not os.path.islink(k)):
            keep.append(path)
    return keep


def _enter_new_root(libc, job: dict[str, Any]) -> str:
    """Build the allow-list root in ``job["stage"]`` and make it ``/`` (in a new mount and PID
    namespace, as root). Returns a description for the report."""
    new = job["stage"]
    os.umask(0o022)  # the folders made here must be traversable by the sandbox user

    def inside(path: str) -> str:
        return os.path.join(new, path.lstrip("/"))

    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    _mount(libc, "tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    # The private folders first: the Python environment may lie below one of them (a course
    # cloned into /tmp), and its bind mount must land on top, not be covered.
    for path in ("/tmp", "/var/tmp", "/dev", "/proc"):
        os.makedirs(inside(path), exist_ok=True)
    size = int(job["limits"]["max_file_mb"])
    _mount(libc, "tmpfs", inside("/dev"), "tmpfs", MS_NOSUID, "mode=755,size=64k")
    os.makedirs(inside("/dev/shm"), exist_ok=True)
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        _mount(libc, "tmpfs", inside(path), "tmpfs", MS_NOSUID | MS_NODEV,
               f"mode=1777,size={size}m")
    paths = _read_only_paths()
    for path in paths:
        target = inside(path)
        if os.path.islink(path):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(os.readlink(path), target)
            continue
        os.makedirs(target, exist_ok=True)
        _mount(libc, path, target, None, MS_BIND | MS_REC)
        _mount(libc, None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    for device in DEVICES:
        target = inside(f"/dev/{device}")
        open(target, "w").close()
        _mount(libc, f"/dev/{device}", target, None, MS_BIND)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(link, inside(f"/dev/{name}"))
    _mount(libc, "proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    scratch = inside(job["scratch"])
    os.makedirs(scratch, exist_ok=True)
    _mount(libc, job["scratch"], scratch, None, MS_BIND)
    os.chdir(new)
    _mount(libc, new, "/", None, MS_MOVE)
    os.chroot(".")
    os.chdir("/")
    return ("allow-list root: Python and system libraries read-only, the scratch copy, "
            "private /tmp, /var/tmp and /dev/shm, own /proc; nothing else")


def _close_stray_fds(keep: set[int]) -> None:
    """Close inherited descriptors of files and folders (a folder's descriptor would lead
    outside the new root), and the fork server's "alive" pipe: multiprocessing hands every
    forked child the write end, and while any holds it the fork server outlives a killed grader,
    and so would every sandbox (their parent-death signal comes from the fork server's exit)."""
    from multiprocessing import forkserver

    alive = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
    if alive is not None and alive not in keep:
        os.close(alive)
        forkserver._forkserver._forkserver_alive_fd = None
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep or fd <= 2:
            continue
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("/"):
                os.close(fd)
        except OSError:
            pass


def _fork_and_relay(init: bool) -> None:
    """Fork; the parent waits for the child and ends as it did, only the child returns.

    A namespace's first process (``init``) cannot kill itself with a signal, so it relays a
    child's death by signal N as exit code 128 + N, which the first relay turns back into the
    signal: the pool sees a segfault as a segfault. ``init`` also reaps every orphan of its
    namespace while it waits.
    """
    pid = os.fork()
    if pid == 0:
        return
    while True:
        try:
            done, status = os.waitpid(-1 if init else pid, 0)
        except InterruptedError:
            continue
        if done == pid:
            break
    if os.WIFSIGNALED(status):
        sig, code = os.WTERMSIG(status), 128 + os.WTERMSIG(status)
    else:
        code = os.waitstatus_to_exitcode(status)
        sig = code - 128 if code > 128 and not init else 0
    if sig and not init:
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(code)


def enter_pid_namespace(libc) -> bool:
    """Run the rest of this sandbox as process 2 of a new PID namespace (root only).

    The sandbox process forks the namespace's first process, which forks the one that goes on
    (this function returns True in it). Each waits for its child and ends the same way, so the
    pool sees one process with the notebook's exit. Each dies with its parent (SIGKILL), and
    when the first process ends the kernel kills and reaps every process of the namespace.
    Returns False when the machine does not allow it (the caller goes on without).
    """
    os.setsid()
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID) != 0:
        return False
    _fork_and_relay(init=False)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _fork_and_relay(init=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return True


def isolate(job: dict[str, Any]) -> dict[str, str]:
    """Apply every isolation measure the machine allows; report which ones are in effect."""
    limits = job["limits"]
    report: dict[str, str] = {}
    libc = _libc()
    root = os.geteuid() == 0
    uid = int(job["uid"]) if root else None
    if root and job.get("pid_namespace"):
        report["network"] = "off (new network namespace)"
        report["processes"] = "own PID namespace: nothing outlives the notebook or the grader"
        report["filesystem"] = _enter_new_root(libc, job)
    elif not root and libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        os.setsid()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        report["network"] = "off (new user and network namespace)"
        report["filesystem"] = "NOT isolated (not root): readable as the grader's user"
    else:
        report["network"] = "NOT isolated (no network namespace available)"
        report["filesystem"] = "NOT isolated: readable as the grader's user"

    mib = 2**20
    caps = [(resource.RLIMIT_AS, limits["memory_mb"] * mib),
            (resource.RLIMIT_CPU, int(limits["cpu_seconds"])),
            (resource.RLIMIT_FSIZE, limits["max_file_mb"] * mib),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NOFILE, 256)]
    if root:
        caps.append((resource.RLIMIT_NPROC, int(limits["max_processes"])))
    for which, value in caps:
        hard = value + 5 if which == resource.RLIMIT_CPU else value
        resource.setrlimit(which, (value, hard))
    report["limits"] = (f"memory {limits['memory_mb']} MiB, CPU {limits['cpu_seconds']} s, "
                        f"files {limits['max_file_mb']} MiB"
                        + (f", {limits['max_processes']} processes" if root else
                           ", processes NOT limited (not root)"))

    scratch = job["scratch"]
    if root:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        # Switching users clears the parent-death signal: set it again, and make sure.
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        current = ctypes.c_int(0)
        libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(current), 0, 0, 0)
        if current.value != signal.SIGKILL:
            raise RuntimeError("could not set the parent-death signal after the user switch")
        report["user"] = f"unprivileged uid {uid}, used by this worker slot only"
    else:
        report["user"] = "NOT isolated: the grader's own user"
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.chdir(scratch)
    os.environ.update(HOME=scratch, TMPDIR=scratch, MPLCONFIGDIR=scratch,
                      IPYTHONDIR=os.path.join(scratch, ".ipython"))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    log = os.open(os.path.join(scratch, ".output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                  0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    return report


# ---------------------------------------------------------------------------------------------
# Running cells and cases.
# ---------------------------------------------------------------------------------------------


class _Capped(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit, self.parts, self.size, self.dropped = limit, [], 0, 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self) -> str:
        note = f"\n[... {self.dropped} more characters dropped]" if self.dropped else ""
        return "".join(self.parts) + note


def _on_alarm(signum, frame) -> None:
    raise SandboxTimeout()


def _first_line(exc: BaseException) -> str:
    try:
        text = str(exc).strip()
    except BaseException:  # noqa: BLE001 - a student's __str__ may do anything
        text = ""
    return text.splitlines()[0][:500] if text else ""


def _fault(exc: BaseException) -> str | None:
    if isinstance(exc, SandboxTimeout):
        return "timeout"
    if isinstance(exc, MemoryError):
        return "out-of-memory"
    if isinstance(exc, RuntimeError) and "can't allocate memory" in _first_line(exc):
        return "out-of-memory"
    return None


def _describe(exc: BaseException) -> ErrorReport:
    return ErrorReport(type(exc).__name__[:100], _first_line(exc), _fault(exc))


class _Watch:
    """Finds replaced functions in numpy, torch, builtins... and IPython's transformers."""

    def __init__(self, shell) -> None:
        self.shell = shell
        self.base = self._state()

    def _state(self) -> dict[str, Any]:
        import numpy
        import torch

        state: dict[str, Any] = {}
        for name in WATCHED_MODULES:
            module = sys.modules.get(name)
            for key, value in list(vars(module).items()) if module else []:
                if callable(value) and not key.startswith("__"):
                    state[f"{name}.{key}"] = value
        for cls in (numpy.ndarray, torch.Tensor, torch.nn.Module, torch.optim.Optimizer):
            for key, value in list(vars(cls).items()):
                state[f"{cls.__module__}.{cls.__qualname__}.{key}"] = value
        shell = self.shell
        for key in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
            items = getattr(shell, key, [])
            state[f"IPython {key}"] = (items, tuple(items))
        state["IPython events"] = {k: tuple(v) for k, v in shell.events.callbacks.items()}
        return state

    def changes(self) -> list[str]:
        now = self._state()
        changed = []
        for key, value in self.base.items():
            if key.startswith("IPython"):
                if key == "IPython events":
                    same = now.get(key) == value
                else:
                    same = now.get(key, (None, None))[0] is value[0] and \
                        now.get(key)[1] == value[1]
                if not same:
                    changed.append(f"changed {key}")
            elif now.get(key, _MISSING) is not value:
                changed.append(f"replaced {key}")
        if changed:
            self.base = now  # report each change once
        return changed[:5]


_MISSING = object()


def _make_shell():
    from wwit.checks.runner import plain_shell

    return plain_shell()


def _run_cell(shell, source: str, timeout: float, limit: int) -> tuple[str, ErrorReport | None]:
    """Run one cell; return its captured output and its error."""
    capture = _Capped(limit)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = capture
    signal.setitimer(signal.ITIMER_REAL, timeout)
    result = None
    try:
        result = shell.run_cell(source, store_history=False, silent=False)
        error = result.error_before_exec or result.error_in_exec
    except BaseException as exc:  # noqa: BLE001 - the timer can fire outside run_cell's guard
        error = exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
    del result
    try:
        output = capture.value()
    except MemoryError:
        output, error = "", error or MemoryError()
    capture.parts.clear()
    gc.collect()
    return output, None if error is None else _describe(error)


def _oracle_codes() -> set:
    """Code objects of every exercise's oracle and comparison: a submission must not call them."""
    from autograder.checks import assignment_modules

    codes = set()
    for module in assignment_modules():
        for exercise in module.EXERCISES.values():
            for fn in (exercise.oracle, exercise.compare):
                code = getattr(fn, "__code__", None)
                if code is not None:
                    codes.add(code)
    return codes


def _call_case(exercise, impl, case, timeout: float, oracle_codes: set, hidden: bool,
               index: int) -> CaseResult:
    seen: set[str] = set()
    verdicts: dict[str, bool] = {}

    def hook(frame, event, arg):
        if event != "call":
            return
        if frame.f_code in oracle_codes:
            seen.add("the grader's reference implementation")
            return
        name = frame.f_globals.get("__name__") or ""
        bad = verdicts.get(name)
        if bad is None:
            bad = verdicts[name] = isinstance(name, str) and exercise.uses_forbidden(name)
        if bad:
            seen.add(name)

    signal.setitimer(signal.ITIMER_REAL, timeout)
    sys.setprofile(hook)
    error = None
    try:
        got = exercise.run_case(impl, case)
    except BaseException as exc:  # noqa: BLE001 - anything the student's code raises
        got, error = None, _describe(exc)
    finally:
        profiler = sys.getprofile()
        sys.setprofile(None)
        signal.setitimer(signal.ITIMER_REAL, 0)
    tamper = []
    if profiler is not hook:
        tamper.append("removed or replaced the grader's call monitor (sys.setprofile)")
    if seen:
        tamper.append("called " + ", ".join(sorted(seen)) + " instead of implementing the "
                      "exercise")
    value = None
    if error is None:
        try:
            value = wire.encode(got)
        except BaseException as exc:  # noqa: BLE001 - encoding must never kill the run
            value = {"$": "unsupported", "type": f"unencodable ({exc!r:.60})",
                     "student": False, "overrides": []}
    return CaseResult(hidden, index, value, error, tuple(tamper))


def _run_test(shell, plan: dict[str, Any], job: dict[str, Any], oracle_codes: set,
              send) -> tuple[ExerciseResult, ...]:
    module = importlib.import_module(plan["module"])
    results = []
    for exercise_name, function in plan["exercises"]:
        exercise = getattr(module, exercise_name)
        impl = shell.user_ns.get(function, _MISSING)
        if impl is _MISSING:
            results.append(ExerciseResult(exercise_name, missing=function))
            continue
        cases: list[CaseResult] = []
        for hidden in (False, True):
            for index, case in enumerate(exercise.cases(hidden=hidden,
                                                        seed=job["hidden_seed"])):
                send(StepStarted())  # each case gets the full time limit
                cases.append(_call_case(exercise, impl, case, job["limits"]["cell_timeout"],
                                        oracle_codes, hidden, index))
                if cases[-1].error or cases[-1].tamper:
                    break
            if cases and (cases[-1].error or cases[-1].tamper):
                break
        results.append(ExerciseResult(exercise_name, cases=tuple(cases)))
    return tuple(results)


def _reap(own_uid: int | None) -> None:
    """Kill every other process of this worker's own unprivileged user (forks left behind)."""
    if own_uid is not None and os.getuid() == own_uid and own_uid != 0:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass


def child_main(job: dict[str, Any], conn) -> None:
    """Entry point of a sandboxed process: isolate, run every step, report, exit."""
    main_pid = os.getpid()

    def send(message: messages.Message) -> None:
        if os.getpid() == main_pid:
            conn.send_bytes(wire.dumps(messages.to_data(message)))

    try:
        oracle_codes = _oracle_codes()  # before the new root hides the course's files
        if os.geteuid() == 0 and job.get("uid") is not None:
            _close_stray_fds({conn.fileno()})
            job = {**job, "pid_namespace": enter_pid_namespace(_libc())}
            main_pid = os.getpid()
        isolation = isolate(job)
        import torch

        torch.set_num_threads(1)
        shell = _make_shell()
        watch = _Watch(shell)
        signal.signal(signal.SIGALRM, _on_alarm)
    except BaseException as exc:  # noqa: BLE001 - report why the sandbox could not start
        send(Fatal(f"{type(exc).__name__}: {exc}"[:500]))
        os._exit(3)
    send(Started(isolation))
    try:
        _run_steps(job, shell, watch, oracle_codes, send, main_pid)
    except BaseException as exc:  # noqa: BLE001 - report the grader's own failure, then stop
        import traceback

        send(Fatal("".join(traceback.format_exception(exc))[-1500:]))
        os._exit(4)
    send(Ended())
    sys.stdout.flush()
    os._exit(0)


def _run_steps(job, shell, watch, oracle_codes, send, main_pid) -> None:
    own_uid = os.getuid() if os.geteuid() != 0 and job.get("uid") is not None else None
    limits = job["limits"]
    for index, step in enumerate(job["steps"]):
        send(StepStarted(index))
        output, error, exercises = "", None, None
        if step["kind"] == "code":
            output, error = _run_cell(shell, step["source"], limits["cell_timeout"],
                                      limits["max_output_kb"] * 1024)
        else:
            try:
                exercises = _run_test(shell, step["test"], job, oracle_codes, send)
            except BaseException as exc:  # noqa: BLE001 - a test step must report, not die
                error, exercises = _describe(exc), ()
        if os.getpid() != main_pid:
            os._exit(0)  # a fork made by the student's code: it must not go on grading
        try:
            send(StepDone(index, output, error, tuple(watch.changes()), exercises))
        except MemoryError:  # the student's code left too little memory to report
            output = exercises = None
            gc.collect()
            send(StepDone(index, error=ErrorReport("MemoryError", "", "out-of-memory")))
        except ValueError:  # not JSON-serializable: should not happen, report it plainly
            send(StepDone(index, error=ErrorReport("GraderError", "unreportable result")))
        _reap(own_uid)
