"""The grader's private folder: its locks, scratch copies and temporary state.

Nothing of the engine lives in a shared folder such as ``/tmp``, where a submission (running as a
sandbox user) could plant a symbolic link for a later run to follow as root. Everything is under
one folder owned by the grader's user with mode 0700 (``/run/wwit-grader`` as root), checked
before use, and files in it are opened with ``O_NOFOLLOW``. Each run's folders carry the process
id, so the next run removes what a killed run left behind.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

_STALE = re.compile(r"^(run|ipython)-(\d+)-")
#: The private folder when grading as root.
ROOT_FOLDER = Path("/run/wwit-grader")
#: The private folder of any other user (``$XDG_RUNTIME_DIR``, else the temporary folder).
USER_FOLDER = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / (
    f"wwit-grader-{os.geteuid()}")


class PrivateFolderError(RuntimeError):
    """The private folder exists but is not private (another owner, a link, open modes)."""


def base() -> Path:
    """The private folder, created if needed and checked: a real folder, ours, mode 0700."""
    path = ROOT_FOLDER if os.geteuid() == 0 and ROOT_FOLDER.parent.is_dir() else USER_FOLDER
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid()
            or info.st_mode & 0o077):
        raise PrivateFolderError(
            f"{path} must be a folder owned by uid {os.geteuid()} with mode 0700 (found "
            f"{'a link' if stat.S_ISLNK(info.st_mode) else oct(info.st_mode)}, owner "
            f"{info.st_uid}); remove it and grade again")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> None:
    """Remove the run folders of grading processes that are gone (killed runs)."""
    for entry in base().iterdir():
        match = _STALE.match(entry.name)
        if match and int(match.group(2)) != os.getpid() and not _alive(int(match.group(2))):
            shutil.rmtree(entry, ignore_errors=True)


def new_folder(kind: str, remove_at_exit: bool = True) -> Path:
    """A new private folder ``<kind>-<pid>-...`` (``kind`` is ``run`` or ``ipython``)."""
    remove_stale()
    path = Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=base()))
    if remove_at_exit:
        atexit.register(shutil.rmtree, path, True)
    return path


def open_lock(name: str) -> int:
    """Open (create) the lock file ``name`` in the private folder, never through a link."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(base() / name, flags, 0o600)
