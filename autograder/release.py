"""``release``: generate the student notebooks in ``notebooks/`` from ``source/``.

Runs nbgrader's generate_assignment (solutions replaced by stubs, hidden tests removed, test
cells locked and checksummed), then clears outputs and execution counts so that the committed
release is exactly reproducible from the source.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from autograder import notebooks
from autograder.course import (
    CourseError,
    assignments,
    course_folders,
    load_config,
    make_api,
    source_notebooks,
)


class ReleaseError(Exception):
    """nbgrader could not generate an assignment."""


def release(
    root: Path,
    assignment: str | None = None,
    release_dir: Path | None = None,
    db_url: str | None = None,
) -> list[Path]:
    """Generate the student version of one assignment, or of all of them.

    Args:
        root: The course directory.
        assignment: One assignment name; ``None`` releases every assignment in ``source/``.
        release_dir: Where to write ``<assignment>/`` folders (default: the configured
            release directory, ``notebooks/``).
        db_url: Gradebook to record the assignment in (default: a throwaway SQLite file, so a
            release never touches the class gradebook; ``grade`` records assignments itself).

    Returns:
        The released notebook paths.

    Raises:
        CourseError: Unknown assignment.
        ReleaseError: nbgrader failed; the message holds its log.
    """
    names = [assignment] if assignment else assignments(root)
    for name in names:
        source_notebooks(root, name)  # validates the name
    config = load_config(root)
    if release_dir is not None:
        config.CourseDirectory.release_directory = str(Path(release_dir).resolve())
    out_root = Path(config.CourseDirectory.root) / config.CourseDirectory.release_directory
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="release-db-") as scratch:
        config.CourseDirectory.db_url = db_url or f"sqlite:///{scratch}/gradebook.db"
        api = make_api(config)
        for name in names:
            result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise ReleaseError(f"nbgrader could not release {name}:\n"
                                   f"{result.get('error') or result.get('log')}")
            for path in sorted((out_root / name).glob("*.ipynb")):
                notebooks.write(notebooks.clean(notebooks.read(path)), path)
                written.append(path)
    if not written:
        raise CourseError("nothing was released")
    return written


def record(root: Path, assignment: str | None = None) -> str:
    """Record assignments and their notebooks in the course's gradebook, leaving ``notebooks/``
    alone, so that Formgrader lists every assignment with its notebooks from its first open.

    Args:
        root: The course directory.
        assignment: One assignment name; ``None`` records every assignment in ``source/``.

    Returns:
        The gradebook's URL.
    """
    db_url = course_folders(root).db_url
    with tempfile.TemporaryDirectory(prefix="release-record-") as scratch:
        release(root, assignment, release_dir=Path(scratch), db_url=db_url)
    return db_url
