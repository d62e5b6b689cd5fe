"""Where the course lives and how nbgrader is configured for it."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"


class CourseError(Exception):
    """The course directory or an assignment is missing or malformed."""


def find_root(start: Path | None = None) -> Path:
    """Return the course directory: ``$COURSE_ROOT``, else the nearest parent with the config.

    Args:
        start: Where to start looking (default: the current directory, then this package's repo).

    Raises:
        CourseError: No directory with ``nbgrader_config.py`` was found.
    """
    if os.environ.get("COURSE_ROOT"):
        return Path(os.environ["COURSE_ROOT"]).resolve()
    candidates = [Path(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for base in candidates:
        for directory in (base, *base.parents):
            if (directory / CONFIG_FILE).is_file() and (directory / "source").is_dir():
                return directory
    raise CourseError(f"no course directory ({CONFIG_FILE} next to source/) found")


def load_config(root: Path) -> Config:
    """Load the course's ``nbgrader_config.py`` and pin the course root to ``root``."""
    config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    return config


@dataclass(frozen=True)
class CourseFolders:
    """Where nbgrader keeps a course's collected work and grades (from ``nbgrader_config.py``).

    Attributes:
        submitted: ``nbgrader collect`` puts ``<student_id>/<assignment>/`` folders here.
        autograded: Graded notebooks, which ``nbgrader generate_feedback`` turns into feedback.
        db_url: The gradebook that Formgrader shows and ``nbgrader export`` reads.
    """

    submitted: Path
    autograded: Path
    db_url: str


def course_folders(root: Path) -> CourseFolders:
    """The course's nbgrader folders and gradebook, as its configuration sets them."""
    from nbgrader.coursedir import CourseDirectory

    course = CourseDirectory(config=load_config(root))
    base = Path(course.root)
    return CourseFolders(base / course.submitted_directory, base / course.autograded_directory,
                         course.db_url)


def assignments(root: Path) -> list[str]:
    """Names of the assignments under ``source/``, sorted."""
    source = root / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))


#: The lecture every reader needs, whatever the assignment (the course's notation).
NOTATION_LECTURE = "00_notation.ipynb"


def topic_lectures(root: Path, assignment: str) -> list[Path]:
    """The lectures of an assignment's topic, sorted: ``aNN_x`` goes with ``lectures/NN_*.ipynb``
    and, for a topic split in parts, ``lectures/NNa_*.ipynb``, ``lectures/NNb_*.ipynb``, ...."""
    match = re.match(r"a(\d\d)_", assignment)
    if not match:
        return []
    return sorted(p for p in (root / "lectures").glob(f"{match.group(1)}*_*.ipynb")
                  if re.fullmatch(rf"{match.group(1)}[a-z]?_\w+\.ipynb", p.name))


def source_notebooks(root: Path, assignment: str) -> list[Path]:
    """The instructor notebooks of one assignment, sorted.

    Raises:
        CourseError: The assignment does not exist or has no notebook.
    """
    directory = root / "source" / assignment
    if not directory.is_dir():
        known = ", ".join(assignments(root)) or "none"
        raise CourseError(f"unknown assignment {assignment!r} (known: {known})")
    notebooks = sorted(directory.glob("*.ipynb"))
    if not notebooks:
        raise CourseError(f"assignment {assignment!r} has no notebook in {directory}")
    return notebooks


def ensure_scripts_on_path() -> None:
    """Put this interpreter's script directory first on ``PATH``.

    nbgrader runs ``alembic`` (its database migrations) as a command, which is only found when
    the virtual environment is activated; ``.venv/bin/python -m autograder`` does not activate it.
    """
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def alembic_head() -> str:
    """The gradebook schema's revision, read in this process.

    nbgrader asks a new ``alembic heads`` process for it whenever it creates a gradebook (about
    3 s per grading run into a new gradebook); this reads the same revision from the same
    migration scripts through alembic's own API.
    """
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        return ScriptDirectory.from_config(AlembicConfig(ini)).get_current_head()


def make_api(config: Config):
    """An in-process :class:`nbgrader.apps.NbGraderAPI` for ``config`` (no command start-up)."""
    ensure_scripts_on_path()
    import nbgrader.api
    from nbgrader.apps import NbGraderAPI

    nbgrader.api.get_alembic_version = alembic_head
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)
