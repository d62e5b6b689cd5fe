"""``kit``: what an instructor hands out to students, with nothing hidden in it.

``python -m autograder kit [ASSIGNMENT ...] --out DIR`` writes ``DIR/`` and ``DIR.zip``:

* ``notebooks/<assignment>/``: the released notebooks, as ``make release`` wrote them;
* ``lectures/``: the lecture of each assignment's topic;
* ``wwit/``: the lecture helpers and the student edition of the checks,
  ``wwit/checks/<assignment>/``: per exercise, the visible cases and their expected results,
  computed here and stored as data (``cases.json``, :mod:`wwit.checks.data`), and a *harness*
  module per check module: the exercise's comparison and call, with exactly the helpers they
  use, extracted from the instructor's check module (:func:`harness_source`);
* ``requirements.txt`` (the course's pins without the developer tools), ``Makefile``
  (``make lab``, ``make check NB=...``) and a student ``README.md``.

What stays behind: ``source/``, ``autograder/`` (hidden-case generators, ``HIDDEN_SEED``,
``run_hidden``, the oracles) and ``tests/``. The extraction refuses to copy an oracle, a
hidden-case generator or an exercise into a harness, and ``tests/test_kit.py`` proves on the
built kit that no solution, hidden case or seed is in it. Because the expected results are data,
a new hidden seed each term needs no new kit.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import wwit.checks.core
from autograder import checks as checks_package
from autograder.course import (
    NOTATION_LECTURE,
    CourseError,
    assignments,
    source_notebooks,
    topic_lectures,
)
from wwit.checks import data
from wwit.checks.visible import CASE_FILE, CASE_FORMAT

#: Requirements a student does not need: the test runner, the linter, the browser tests' driver and
#: the book's MathJax (the book is built from this repository, not from a kit).
DEV_REQUIREMENTS = ("pytest", "ruff", "playwright", "django-static-mathjax", "dask", "distributed")
#: Marks a folder as a kit, so that rebuilding may replace it.
MARKER = ".course-kit"
_KIT_FILES = Path(__file__).resolve().parent / "kit_files"


class KitError(Exception):
    """The kit cannot be built (an exercise's harness needs hidden code, an unknown name...)."""


@dataclass
class Kit:
    """A built kit.

    Attributes:
        path: The kit's folder.
        archive: The zip of the folder.
        assignments: The assignments in it.
        files: Every file of the folder, relative to it.
    """

    path: Path
    archive: Path
    assignments: list[str]
    files: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Harness extraction: the comparison and call of each exercise, with the helpers they use.
# ---------------------------------------------------------------------------------------------


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in stmt.names]
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _used_names(stmt: ast.stmt) -> set[str]:
    """Names a statement reads, annotations excluded (never evaluated: the harness starts with
    ``from __future__ import annotations``)."""
    annotations: set[int] = set()
    for node in ast.walk(stmt):
        for ann in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if ann is not None:
                annotations.update(id(n) for n in ast.walk(ann))
    return {n.id for n in ast.walk(stmt)
            if isinstance(n, ast.Name) and id(n) not in annotations}


def _import_line(stmt: ast.Import | ast.ImportFrom, names: set[str], module: str) -> str:
    aliases = [a for a in stmt.names if (a.asname or a.name).split(".")[0] in names]
    text = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in aliases)
    if isinstance(stmt, ast.Import):
        return f"import {text}"
    source = stmt.module or ""
    if source == "autograder.checks.core":
        missing = [a.name for a in aliases if not hasattr(wwit.checks.core, a.name)]
        if missing:
            raise KitError(f"{module}: the harness needs {missing} from autograder.checks.core, "
                           "which are not public (move them to wwit/checks/core.py)")
        source = "wwit.checks.core"
    elif source.split(".")[0] == "autograder" or stmt.level:
        raise KitError(f"{module}: the harness imports from {source or '.'}; the kit has no "
                       "autograder package")
    return f"from {source} import {text}"


def harness_source(module: ModuleType, roots: Iterable[str], forbidden: dict[str, str]) -> str:
    """The code of ``roots`` and of every module-level name they use, in source order.

    Args:
        module: An instructor check module.
        roots: Module-level names the kit needs (comparisons, calls, referenced objects).
        forbidden: Names that must not end up in the kit -> why (oracles, hidden generators).

    Raises:
        KitError: A root depends on a forbidden name, or imports from ``autograder``.
    """
    path = Path(module.__file__)
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    defined: dict[str, list[int]] = {}
    for index, stmt in enumerate(tree.body):
        for name in _bound_names(stmt):
            defined.setdefault(name, []).append(index)
    keep: set[int] = set()
    imported: set[str] = set()
    queue, seen, parent = list(roots), set(), {}
    while queue:
        name = queue.pop()
        if name in seen or name not in defined:
            continue
        seen.add(name)
        if name in forbidden:
            chain, at = [name], name
            while at in parent:
                at = parent[at]
                chain.append(at)
            raise KitError(f"{module.__name__}: the kit would need {' <- '.join(chain)}, "
                           f"which is {forbidden[name]}")
        for index in defined[name]:
            stmt = tree.body[index]
            keep.add(index)
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                imported.add(name)
                continue
            for used in _used_names(stmt) - seen:
                parent.setdefault(used, name)
                queue.append(used)
    lines = [f'"""Harness of {module.__name__} for the student kit: comparisons and calls only.',
             "", "Generated by ``python -m autograder kit``; do not edit.", '"""', "",
             "from __future__ import annotations", ""]
    for index in sorted(keep):
        stmt = tree.body[index]
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            lines.append(_import_line(stmt, imported, module.__name__))
        else:
            lines += ["", "", ast.get_source_segment(text, stmt)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The student edition of one assignment's checks.
# ---------------------------------------------------------------------------------------------


def _short(module_name: str) -> str:
    return module_name.rsplit(".", 1)[-1]


def _forbidden(modules: Iterable[ModuleType]) -> dict[str, str]:
    """Names of each check module that the kit must not contain."""
    from autograder.checks.core import Exercise

    out: dict[str, str] = {"HIDDEN_SEED": "the hidden seed", "EXERCISES": "the exercise table"}
    for module in modules:
        for name, value in vars(module).items():
            if isinstance(value, Exercise):
                out[name] = f"the exercise {value.name} itself"
                for fn, what in ((value.oracle, "oracle"), (value.hidden, "hidden-case generator")):
                    out[fn.__qualname__.split(".")[0]] = f"the {what} of {value.name}"
    return out


def student_checks(assignment: str) -> dict[str, str]:
    """The files of ``wwit/checks/<assignment>/`` in the kit: file name -> text.

    Raises:
        KitError: A harness would need hidden code, or a visible case holds something that
            cannot be stored as data.
    """
    module = importlib.import_module(f"{checks_package.__name__}.{assignment}")
    exercises = module.EXERCISES
    roots: dict[str, set[str]] = {}
    entries: dict[str, Any] = {}

    def name_of(value: Any) -> tuple[str, str] | None:
        owner = getattr(value, "__module__", None)
        name = getattr(value, "__qualname__", None)
        if (owner in sys.modules and owner.startswith(module.__name__) and name
                and getattr(sys.modules[owner], name, None) is value):
            roots.setdefault(owner, set()).add(name)
            return _short(owner), name
        return None

    for name, exercise in exercises.items():
        cases = exercise.cases()
        try:
            entries[name] = {
                "compare": data.encode(exercise.compare, name_of),
                "call": data.encode(exercise.call, name_of),
                "cases": [data.encode({"label": c.label, "args": tuple(c.args),
                                       "kwargs": dict(c.kwargs), "data": dict(c.data)}, name_of)
                          for c in cases],
                "expected": [data.encode(exercise.expected(c), name_of) for c in cases],
            }
        except data.DataError as exc:
            raise KitError(f"{assignment}.{name}: {exc}") from None
    owners = sorted(roots)
    forbidden = _forbidden(sys.modules[o] for o in owners)
    files = {f"_{_short(o)}.py": harness_source(sys.modules[o], roots[o], forbidden)
             for o in owners}
    imports = "\n".join(f"from . import _{_short(o)}" for o in owners)
    table = ", ".join(f'"{_short(o)}": _{_short(o)}' for o in owners)
    files["__init__.py"] = (
        f'"""Visible checks of assignment {assignment} (student edition).\n\n'
        "Generated by ``python -m autograder kit``; do not edit. The visible cases and their\n"
        f"expected results are data in ``{CASE_FILE}``; the harness modules hold the comparisons.\n"
        '"""\n\nfrom pathlib import Path\n\nfrom wwit.checks.visible import load_kit\n\n'
        f"{imports}\n\nEXERCISES = load_kit(Path(__file__).parent, {{{table}}})\n"
        "globals().update(EXERCISES)\n")
    files[CASE_FILE] = json.dumps({"format": CASE_FORMAT, "assignment": assignment,
                                   "exercises": entries}, allow_nan=False, indent=1) + "\n"
    return files


# ---------------------------------------------------------------------------------------------
# The kit.
# ---------------------------------------------------------------------------------------------


def student_requirements(root: Path) -> str:
    """The course's pinned requirements without the developer tools."""
    lines = ["# Pinned dependencies of the course (student edition). `make lab` installs them."]
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = re.split(r"[=<>!~\[ ]", line.strip(), maxsplit=1)[0].lower()
        if line.strip() and not line.startswith("#") and name not in DEV_REQUIREMENTS:
            lines.append(line.strip())
    return "\n".join(lines) + "\n"


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info"))


def _require_release_matches(root: Path, assignment: str, exercises: dict[str, Any]) -> None:
    """Every test cell of the released notebooks checks an exercise the kit has."""
    from autograder import notebooks
    from autograder.engine.rebuild import SourceError, test_plan

    for path in sorted((root / "notebooks" / assignment).glob("*.ipynb")):
        for cell in notebooks.test_cells(notebooks.read(path)):
            try:
                plan = test_plan(cell)
            except SourceError as exc:
                raise KitError(f"{path}: {exc}") from None
            unknown = [e for e, _ in plan.exercises if e not in exercises]
            if plan.module != f"{checks_package.__name__}.{assignment}" or unknown:
                raise KitError(f"{path} does not match autograder/checks/{assignment} "
                               f"({', '.join(unknown) or plan.module}): run `make release`")


def build(root: Path, names: Sequence[str] | None, out: Path) -> Kit:
    """Build the kit of ``names`` (default: every assignment) in ``out`` and ``out.zip``.

    Raises:
        CourseError: Unknown assignment, or ``out`` exists and is not a kit.
        KitError: See :func:`student_checks`.
    """
    root = Path(root)
    names = list(names or assignments(root))
    for name in names:
        source_notebooks(root, name)
        if not (root / "notebooks" / name).is_dir():
            raise CourseError(f"{name} is not released: run `make release` first")
    out = Path(out).resolve()
    if out.exists():
        if not (out / MARKER).is_file():
            raise CourseError(f"{out} exists and is not a course kit; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("built by python -m autograder kit\n", encoding="utf-8")
    for name in names:
        _copy_tree(root / "notebooks" / name, out / "notebooks" / name)
    (out / "lectures").mkdir()
    lectures = [root / "lectures" / NOTATION_LECTURE]
    lectures += [lecture for name in names for lecture in topic_lectures(root, name)]
    for lecture in lectures:
        if lecture.is_file():
            shutil.copy2(lecture, out / "lectures" / lecture.name)
    _copy_tree(root / "wwit", out / "wwit")
    for name in names:
        target = out / "wwit" / "checks" / name
        target.mkdir(parents=True)
        files = student_checks(name)
        _require_release_matches(root, name, json.loads(files[CASE_FILE])["exercises"])
        for filename, text in files.items():
            (target / filename).write_text(text, encoding="utf-8")
    (out / "requirements.txt").write_text(student_requirements(root), encoding="utf-8")
    for template in sorted(_KIT_FILES.iterdir()):
        text = template.read_text(encoding="utf-8")
        text = text.replace("{{ASSIGNMENTS}}", "\n".join(
            f"- `notebooks/{n}/`: " + ", ".join(
                f"`{p.name}`" for p in sorted((out / "notebooks" / n).glob("*.ipynb")))
            for n in names))
        text = text.replace("{{FIRST_NOTEBOOK}}", next(
            str(p.relative_to(out)) for p in sorted((out / "notebooks").rglob("*.ipynb"))))
        (out / template.name.removesuffix(".in")).write_text(text, encoding="utf-8")
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    archive = out.with_name(out.name + ".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            zf.write(out / rel, f"{out.name}/{rel.as_posix()}")
    return Kit(out, archive, names, files)
