"""The lectures of the book: which ones, in what order, and their execution.

Each lecture runs in a fresh kernel exactly as the tests run it
(:class:`autograder.engine.execute.KernelExecutor`, the lecture budget), with an IPython start-up
file that describes its figures and turns progress-bar widgets off
(:mod:`autograder.book.figures`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from autograder.course import assignments, topic_lectures


class BookError(Exception):
    """The book cannot be built: a lecture failed to execute, MathJax is missing, ..."""


@dataclass(frozen=True)
class Lecture:
    """One lecture of the book.

    Attributes:
        stem: The notebook's name without ``.ipynb`` (``05_batch_normalization``), also the
            page's name (``05_batch_normalization.html``).
        path: The notebook in ``lectures/``.
        title: The text of its first heading.
        assignment: The assignment of its topic (``a05_batchnorm``), or None (the notation page).
    """

    stem: str
    path: Path
    title: str
    assignment: str | None

    @property
    def href(self) -> str:
        """The lecture's page, relative to the book's folder."""
        return f"{self.stem}.html"


def title_of(nb: NotebookNode, default: str) -> str:
    """The text of the notebook's first markdown heading, or ``default``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return default


def discover(root: Path, stems: Sequence[str] = ()) -> list[Lecture]:
    """The lectures of ``root/lectures`` (all of them, or those named), in book order.

    Book order is the file names' order, so ``00_notation`` comes first and ``03a`` before
    ``03b``.

    Args:
        root: The course directory.
        stems: Lecture names (``05_batch_normalization``; ``.ipynb`` and a folder are ignored).

    Raises:
        BookError: A named lecture does not exist, or there is no lecture at all.
    """
    from autograder import notebooks

    available = {p.stem: p for p in sorted((root / "lectures").glob("*.ipynb"))}
    if not available:
        raise BookError(f"no lecture in {root / 'lectures'}")
    wanted = [Path(s).name.removesuffix(".ipynb") for s in stems] or list(available)
    unknown = [s for s in wanted if s not in available]
    if unknown:
        raise BookError(f"unknown lecture(s) {', '.join(unknown)} (known: "
                        f"{', '.join(available)})")
    owner = {p.resolve(): a for a in assignments(root) for p in topic_lectures(root, a)}
    return [Lecture(stem, available[stem], title_of(notebooks.read(available[stem]), stem),
                    owner.get(available[stem].resolve()))
            for stem in sorted(set(wanted))]


#: The kernel start-up file of a book build (:mod:`autograder.book.figures`, re-exported by the
#: package).
_STARTUP = ("from autograder.book import install_alt_text, quiet_progress_bars\n\n"
            "install_alt_text()\nquiet_progress_bars()\n")


@contextmanager
def kernel_environment() -> Iterator[None]:
    """The environment of the build's kernels: a fresh IPython directory whose start-up file
    adds alternative texts to figures and turns tqdm's progress bars (widgets) off, and
    ``TQDM_DISABLE=1`` for any other tqdm."""
    keys = ("TQDM_DISABLE", "IPYTHONDIR")
    saved = {key: os.environ.get(key) for key in keys}
    with tempfile.TemporaryDirectory(prefix="book-ipython-") as ipython_dir:
        startup = Path(ipython_dir) / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-book.py").write_text(_STARTUP, encoding="utf-8")
        os.environ.update(TQDM_DISABLE="1", IPYTHONDIR=ipython_dir)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def execute_lecture(lecture: Lecture, budget: float | None = None) -> NotebookNode:
    """Execute a lecture in a fresh kernel as the tests do; fail if any cell raised.

    Call it inside :func:`kernel_environment`.

    Args:
        lecture: The lecture.
        budget: Seconds the lecture may take (default: the course's lecture budget,
            :data:`autograder.engine.execute.LECTURE_BUDGET_S`).

    Raises:
        BookError: The lecture did not finish within its budget, its kernel died, or a cell
            raised; the message names the lecture and the cells.
    """
    from autograder.engine.execute import LECTURE_BUDGET_S, run_lecture

    try:
        run = run_lecture(lecture.path, budget or LECTURE_BUDGET_S)
    except Exception as exc:  # noqa: BLE001 - a dead kernel: name the lecture
        raise BookError(f"lecture {lecture.stem} failed to execute: {type(exc).__name__}: "
                        f"{exc}") from exc
    if run.problem:
        raise BookError(f"lecture {lecture.stem} failed to execute: {run.problem}")
    return run.nb
