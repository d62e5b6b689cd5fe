"""``book``: every lecture executed and rendered as a static HTML book that works offline.

``python -m autograder book [LECTURE_STEM ...] --out DIR`` (``make book``) writes ``DIR/``:

* ``index.html``: the course title, a note for self-study readers, the lectures in order and
  the course map (the table of the README's "Course map" section, with links into the book);
* ``<lecture>.html``: each lecture of ``lectures/``, executed in a fresh kernel exactly as the
  tests execute it (:class:`autograder.engine.execute.KernelExecutor`, the lecture budget),
  with a sidebar (the book's contents and the page's sections), previous/next links and a link
  to the page of its assignment;
* ``<assignment>.html``: what each assignment of the built lectures asks (the released
  notebook's introduction and the exercises with their points, read from the nbgrader metadata
  of ``source/``) and how to get it; never a solution or a hidden test;
* ``_static/mathjax/``: MathJax 3 (one file, TeX input and SVG output, so no web font) copied
  from the ``django-static-mathjax`` package; pages load it by a relative path.

Nothing on a page makes a request: no require.js, no widget renderer, no CDN. Each widget of
:func:`wwit.widgets.live_figure` is replaced by the figure it showed at its default settings
(read from the widget state that nbclient stores in the executed notebook), with a caption that
says so. Every image has an alternative text: the titles (or axis labels) of its matplotlib
figure, which a kernel start-up hook (:func:`install_alt_text`) adds to the figure's display
metadata during the build (the same start-up turns tqdm's progress-bar widgets off,
:func:`quiet_progress_bars`). Links are relative, so the book opens from ``file://`` as well as
from any web server.

The parts: :mod:`~autograder.book.lectures` (which lectures, executing one),
:mod:`~autograder.book.figures` (alternative texts, widgets as static figures),
:mod:`~autograder.book.pages` (the template, links, the request guard) and
:mod:`~autograder.book.contents` (the contents and assignment pages); this module builds.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.book.contents import assignment_markdown, index_markdown
from autograder.book.figures import install_alt_text, prepare, quiet_progress_bars
from autograder.book.lectures import (
    BookError,
    Lecture,
    discover,
    execute_lecture,
    kernel_environment,
)
from autograder.book.pages import BOOK_TITLE, MATHJAX_FILE, Site, markdown_notebook
from autograder.course import CourseError

__all__ = ["Book", "BookError", "Lecture", "build", "install_alt_text", "main",
           "quiet_progress_bars"]

#: The package whose MathJax 3 the book ships (pinned in ``requirements.txt``).
MATHJAX_PACKAGE = "django-static-mathjax"

#: A file in the output folder that marks it as a book (so a new build may clear it).
MARKER = ".wwit-book"


@dataclass
class Book:
    """What a build wrote.

    Attributes:
        out: The book's folder.
        lectures: The lectures, in book order.
        assignments: The assignments that have a page.
        seconds: Execution wall time per lecture stem (kernel start included).
        files: Every file written, relative to ``out``.
    """

    out: Path
    lectures: list[Lecture]
    assignments: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def mathjax_file() -> Path:
    """MathJax 3's ``tex-svg-full.js`` as installed by ``django-static-mathjax``.

    Raises:
        BookError: The package is not installed (it is in ``requirements.txt``).
    """
    spec = importlib.util.find_spec("mathjax")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = Path(folder) / "static" / "mathjax" / "es5" / MATHJAX_FILE
        if candidate.is_file():
            return candidate
    raise BookError(f"MathJax 3 not found: install {MATHJAX_PACKAGE} (pinned in "
                    "requirements.txt; `make venv`)")


def mathjax_version() -> str:
    """The version of the MathJax package the book ships (call :func:`mathjax_file` first)."""
    from importlib.metadata import version

    return version(MATHJAX_PACKAGE)


def _prepare_out(out: Path) -> None:
    """Create ``out``; clear it first when an earlier book build made it.

    Raises:
        BookError: ``out`` holds files that are not a book (they are left alone).
    """
    if (out / MARKER).is_file():
        shutil.rmtree(out)
    elif out.is_dir() and any(out.iterdir()):
        raise BookError(f"{out} exists and is not a book; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by python -m autograder book\n", encoding="utf-8")


def build(root: Path, stems: Sequence[str] = (), out: Path = Path("build/book"),
          log: Callable[[str], None] = print, budget: float | None = None) -> Book:
    """Execute the lectures and write the book into ``out``.

    Args:
        root: The course directory.
        stems: Lectures to include (default: every lecture of ``lectures/``).
        out: The book's folder (an earlier book in it is replaced).
        log: Receives one line per lecture with its execution time.
        budget: Seconds each lecture may take (default: the course's lecture budget).

    Raises:
        BookError: A lecture failed to execute (named), or MathJax is not installed.
    """
    lectures = discover(root, stems)
    mathjax = mathjax_file()
    pages = sorted({lec.assignment for lec in lectures if lec.assignment})
    out = Path(out)
    _prepare_out(out)
    static = out / "_static" / "mathjax"
    static.mkdir(parents=True)
    shutil.copyfile(mathjax, static / MATHJAX_FILE)
    licence = mathjax.parents[1] / "LICENSE"
    if licence.is_file():
        shutil.copyfile(licence, static / "LICENSE")
    footer = (f"{BOOK_TITLE}: built with nbconvert; math by MathJax "
              f"{mathjax_version().rsplit('.', 1)[0]}, shipped with the book.")
    site = Site(root, out, lectures, pages, footer)
    book = Book(out, lectures, pages)
    contents = {"href": "index.html", "title": "Contents"}
    with kernel_environment():
        for i, lecture in enumerate(lectures):
            start = time.perf_counter()
            nb = execute_lecture(lecture, budget)
            book.seconds[lecture.stem] = time.perf_counter() - start
            frozen = prepare(nb, lecture.stem)
            prev = ({"href": lectures[i - 1].href, "title": lectures[i - 1].title} if i
                    else contents)
            after = ({"href": lectures[i + 1].href, "title": lectures[i + 1].title}
                     if i + 1 < len(lectures) else None)
            book.files.append(site.write(nb, lecture.stem, lecture.title, prev=prev,
                                         next=after, assignment=lecture.assignment))
            log(f"{lecture.stem}: executed in {book.seconds[lecture.stem]:.1f} s"
                + (f", {frozen} widget(s) shown as static figures" if frozen else ""))
    for name in pages:
        markdown = assignment_markdown(root, name, lectures)
        topic = [lec for lec in lectures if lec.assignment == name]
        back = {"href": topic[-1].href, "title": topic[-1].title}
        book.files.append(site.write(markdown_notebook(markdown), name, f"Assignment {name}",
                                     prev=back))
    first = {"href": lectures[0].href, "title": lectures[0].title}
    book.files.append(site.write(markdown_notebook(index_markdown(root, lectures, pages)),
                                 "index", "Contents", next=first))
    book.files += [str(p.relative_to(out)) for p in sorted(static.iterdir())]
    return book


def main(root: Path, stems: Sequence[str], out: Path) -> int:
    """Build the book and print what was written; 1 with the error when the build fails."""
    start = time.perf_counter()
    try:
        book = build(root, stems, out)
    except (BookError, CourseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = sum((book.out / f).stat().st_size for f in book.files)
    print(f"book of {len(book.lectures)} lecture(s) and {len(book.assignments)} assignment "
          f"page(s): {book.out / 'index.html'} ({len(book.files)} files, {size / 1e6:.1f} MB) "
          f"in {time.perf_counter() - start:.1f} s")
    return 0
