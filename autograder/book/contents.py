"""The pages the book writes itself: the contents page with the course map, and one page per
assignment (what it asks, read from the released notebooks; its graded parts, from the nbgrader
metadata of ``source/``; never a solution or a hidden test)."""

from __future__ import annotations

import re
from pathlib import Path

from autograder.book.lectures import BookError, Lecture
from autograder.book.pages import BOOK_TITLE
from autograder.course import source_notebooks, topic_lectures


def _readme_intro(root: Path) -> str:
    """The README's first paragraph (what the course is)."""
    readme = root / "README.md"
    if not readme.is_file():
        return ""
    paragraphs = readme.read_text(encoding="utf-8").split("\n\n")
    body = [p for p in paragraphs if p.strip() and not p.lstrip().startswith("#")]
    return body[0].strip() if body else ""


def course_map(root: Path, lectures: set[str], assignment_pages: set[str]) -> str:
    """The table of the README's "Course map" section, its lectures and assignments linked into
    the book; those not in the book stay plain names.

    Raises:
        BookError: The README has no course map table.
    """
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    section = text.partition("\n## Course map\n")[2].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    if not table:
        raise BookError(f"{readme} has no table under a '## Course map' heading")

    def lecture(found: re.Match) -> str:
        stem = found.group(1)
        return f"[{stem}]({stem}.html)" if stem in lectures else f"`{stem}`"

    def assignment(found: re.Match) -> str:
        name = found.group(1)
        return f"[{name}]({name}.html)" if name in assignment_pages else found.group(0)

    return "\n".join(re.sub(r"`(a\d\d_\w+)`", assignment,
                            re.sub(r"`lectures/([\w.-]+)\.ipynb`", lecture, line))
                     for line in table)


def exercises(root: Path, assignment: str) -> list[tuple[str, float, str]]:
    """``(name, points, how it is graded)`` of an assignment's graded parts, in notebook order.

    Read from the nbgrader metadata of ``source/`` (test cells: the exercise they check and
    their points; written answers: grade id and points), each notebook's tests before its
    written answers. Only names and points leave the source notebooks.
    """
    from autograder import notebooks
    from autograder.engine.rebuild import test_plan

    parts: dict[str, list] = {}
    for path in source_notebooks(root, assignment):
        nb = notebooks.read(path)
        for cell in notebooks.test_cells(nb):
            plan = test_plan(cell)
            parts.setdefault(plan.exercises[0][1], [0.0, "automatic tests"])[0] += plan.points
        for grade_id, points in notebooks.written_answers(nb):
            parts[f"written answer {grade_id}"] = [points, "by your instructor"]
    return [(name, points, how) for name, (points, how) in parts.items()]


def _demote(markdown: str) -> str:
    """Every heading one level down (``#`` -> ``##``), outside code fences."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        lines.append(f"#{line}" if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(lines)


def assignment_markdown(root: Path, assignment: str, lectures: list[Lecture]) -> str:
    """The assignment's page: its lectures, what it asks, its graded parts, how to get it.

    What it asks is the introduction (first markdown cell) of each *released* notebook of
    ``notebooks/`` (what students see); the graded parts and points come from ``source/``'s
    metadata. No solution and no test code is read.
    """
    from autograder import notebooks

    built = {lec.stem: lec for lec in lectures}
    topic = [p.stem for p in topic_lectures(root, assignment)]
    links = ", ".join(f"[{built[s].title}]({s}.html)" if s in built else f"`lectures/{s}.ipynb`"
                      for s in topic)
    released = [p.name for p in source_notebooks(root, assignment)]
    lines = [f"# Assignment `{assignment}`", "",
             f"The exercises of this topic's lecture{'s' if len(topic) > 1 else ''}: {links}. "
             "This book shows what the assignment asks; you solve it in its notebook"
             f"{'s' if len(released) > 1 else ''} (see *How to get it* below).", ""]
    for name in released:
        path = root / "notebooks" / assignment / name
        if path.is_file():
            cells = [c for c in notebooks.read(path).cells if c.cell_type == "markdown"]
            if cells:
                lines += [_demote(cells[0].source), ""]
    parts = exercises(root, assignment)
    lines += ["## Graded parts", "",
              "From the notebook's grading metadata. Automatic tests: the visible cases run in "
              "the notebook's test cells; hidden cases with other inputs decide the grade.", "",
              "| part | points | graded |", "|---|---|---|"]
    lines += [f"| `{n}` | {p:g} | {how} |" if not n.startswith("written answer ")
              else f"| written answer `{n.removeprefix('written answer ')}` | {p:g} | {how} |"
              for n, p, how in parts]
    lines += ["", f"Total: {sum(p for _, p, _ in parts):g} points.", "",
              "## How to get it", "",
              "- **Students**: your instructor hands out the *student kit* (`make kit` builds "
              "it): a folder or zip with the released notebooks, the lectures and the visible "
              "tests. In the kit's folder run `make lab`, open the notebook "
              + ", ".join(f"`notebooks/{assignment}/{n}`" for n in released)
              + ", and replace each `raise NotImplementedError()` with your code.",
              "- **Self-study** in the course repository: `make lab` and open the same "
              "notebook under `notebooks/`.",
              "- Check a whole notebook in a fresh kernel at any time: "
              + ", ".join(f"`make check NB=notebooks/{assignment}/{n}`" for n in released)
              + "."]
    return "\n".join(lines)


def index_markdown(root: Path, lectures: list[Lecture], assignment_pages: list[str]) -> str:
    """The front page: title, a note for self-study readers, the lectures, the course map."""
    lines = [f"# {BOOK_TITLE}", "", _readme_intro(root), "",
             "**Reading this book.** Every lecture was executed top to bottom, with fixed "
             "seeds, when the book was built: each number and figure is what its code printed. "
             "An interactive figure is shown as a static image at its default settings; to move "
             "its controls, run the lecture in JupyterLab (`make lab` in the course's folder). "
             "Each lecture links to the assignment of its topic, where you implement what it "
             "shows. Start with the notation page: one letter per object, for the whole "
             "course.", "", "## Lectures", ""]
    for number, lecture in enumerate(lectures, start=1):
        extra = (f" (assignment [{lecture.assignment}]({lecture.assignment}.html))"
                 if lecture.assignment else "")
        lines.append(f"{number}. [{lecture.title}]({lecture.href}){extra}")
    lines += ["", "## Course map", "",
              course_map(root, {lec.stem for lec in lectures}, set(assignment_pages))]
    return "\n".join(lines)
