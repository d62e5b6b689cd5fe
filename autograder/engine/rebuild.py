"""Rebuild what is executed for one submitted notebook: the source's cells, the student's answers.

The grader trusts only the source notebook. Every locked and test cell is taken from it by
grade id, whatever the student did to their copy (deleted, duplicated, split, moved or
re-labelled cells); the student contributes the code of their answer cells and of the cells they
added, in their order. Comparing the student's copies of locked and test cells with the released
ones finds edits (status ``tampered``), and :mod:`autograder.engine.scan` finds patching and library
calls in the student's code.

Cells after the last test cell are not executed: they cannot change any test's result, and
they are where the slow "applied" parts of an assignment live.

Written answers (markdown answer cells with points,
:func:`autograder.notebooks.is_written_answer`) are never executed
nor scored here: the student's text is carried, under the released cell's metadata, into the
notebook that nbgrader records, where it waits for the instructor (``needs_manual_grade`` in the
gradebook, graded in formgrader). An unchanged placeholder is an unanswered question, worth 0 as
nbgrader records it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from autograder import notebooks
from autograder.engine import scan


class SourceError(ValueError):
    """A source notebook's test cell does not follow the checks convention."""


@dataclass(frozen=True)
class TestPlan:
    """What a test cell checks: ``module.exercise`` called on the student's ``function``."""

    grade_id: str
    points: float
    module: str
    exercises: tuple[tuple[str, str], ...]  # (exercise attribute, student function name)


@dataclass
class Step:
    """One step of the executed notebook.

    Attributes:
        kind: ``code`` (run as a cell) or ``test`` (the grader's cases).
        source: The code of a ``code`` step.
        origin: ``locked:<id>``, ``answer:<id>`` or ``student`` (a cell the student added).
        test: The plan of a ``test`` step.
    """

    kind: str
    source: str = ""
    origin: str = ""
    test: TestPlan | None = None


@dataclass
class Written:
    """A written answer as the student left it.

    Attributes:
        grade_id: The answer cell's grade id.
        cell: What nbgrader records: the student's text under the released cell's metadata (its
            checksum tells nbgrader whether the placeholder was changed), or the released cell
            itself when it was not answered.
        answered: Whether the student changed the placeholder.
    """

    grade_id: str
    cell: NotebookNode
    answered: bool


@dataclass
class Rebuilt:
    """The steps to execute and what the rebuild found.

    Attributes:
        steps: Code and test steps, in order.
        written: The written answers, in source order (never executed).
        tampered: Test grade id -> reasons it is tampered.
        notes: Harmless repairs, for the report (restored deleted cells...).
    """

    steps: list[Step] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)
    tampered: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


#: Packages a test cell imports its checks from: the visible ones (also in the student kit)
#: and the full ones (in the hidden block). Both name the same assignment.
CHECK_PACKAGES = ("wwit.checks", "autograder.checks")


def test_plan(cell: NotebookNode) -> TestPlan:
    """Parse a source test cell: ``from wwit.checks import M as checks`` then
    ``checks.<exercise>.run_visible(<function>)``, and in its hidden block
    ``from autograder.checks import M as hidden`` and ``hidden.<exercise>.run_hidden(...)``."""
    meta = notebooks.nbgrader_meta(cell)
    grade_id = meta.get("grade_id", "?")
    tree = ast.parse(cell.source)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in CHECK_PACKAGES:
            for name in node.names:
                aliases[name.asname or name.name] = name.name
    exercises = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("run_visible", "run_hidden")
                and isinstance(node.func.value, ast.Attribute)
                and isinstance(node.func.value.value, ast.Name)
                and node.func.value.value.id in aliases and len(node.args) == 1
                and isinstance(node.args[0], ast.Name)):
            pair = (node.func.value.attr, node.args[0].id)
            if pair not in exercises:
                exercises.append(pair)
    if len(set(aliases.values())) != 1 or not exercises:
        raise SourceError(f"test cell {grade_id} does not follow the convention "
                          "`checks.<exercise>.run_visible(<function>)` with the checks of one "
                          "assignment (see CONTRIBUTING.md)")
    module = f"autograder.checks.{next(iter(aliases.values()))}"
    return TestPlan(grade_id, float(meta.get("points", 0)), module, tuple(exercises))


def _normalized(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _text(cell: NotebookNode) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _carry_written(out: Rebuilt, written_ids: list[str], released: dict[str, NotebookNode],
                   student_nb: NotebookNode) -> None:
    """The student's text of each written answer (split or duplicated cells joined; a deleted
    one is unanswered), under the released cell's metadata."""
    for grade_id in written_ids:
        stub = released.get(grade_id)
        if stub is None:  # not in the release: nothing a student could have answered
            continue
        texts = [_text(c) for c in student_nb.cells
                 if notebooks.nbgrader_meta(c).get("grade_id") == grade_id]
        text = "\n\n".join(t for t in texts if t.strip())
        answered = bool(text.strip()) and _normalized(text) != _normalized(stub.source)
        cell = nbformat.v4.new_markdown_cell(text if answered else stub.source,
                                             metadata=nbformat.from_dict(stub.metadata))
        if stub.get("id"):
            cell["id"] = stub["id"]
        out.written.append(Written(grade_id, cell, answered))


def rebuild(source_nb: NotebookNode, released_nb: NotebookNode,
            student_nb: NotebookNode, exercises: dict[str, object]) -> Rebuilt:
    """Rebuild one notebook for execution.

    Args:
        source_nb: The instructor's notebook (solutions and hidden tests).
        released_nb: The student version (what an untouched locked or test cell looks like).
        student_nb: The submission.
        exercises: ``"module.exercise"`` -> :class:`~autograder.checks.core.Exercise`, for the
            names each exercise forbids.

    Returns:
        The steps and findings.
    """
    out = Rebuilt()
    released = {notebooks.nbgrader_meta(c).get("grade_id"): c for c in released_nb.cells
                if notebooks.nbgrader_meta(c).get("grade_id")}
    source_cells = list(source_nb.cells)
    source_ids = {notebooks.nbgrader_meta(c).get("grade_id"): c for c in source_cells
                  if notebooks.nbgrader_meta(c).get("grade_id")}
    answer_ids = {g for g, c in source_ids.items() if notebooks.nbgrader_meta(c).get("solution")}
    locked_ids = set(source_ids) - answer_ids
    written_ids = [g for g, c in source_ids.items() if notebooks.is_written_answer(c)]
    _carry_written(out, written_ids, released, student_nb)

    # The student's cells, grouped: answers by grade id, added cells after the source cell
    # they follow.
    answers: dict[str, list[str]] = {g: [] for g in answer_ids}
    added_after: dict[str | None, list[str]] = {}
    copies: dict[str, list[str]] = {}
    anchor: str | None = None
    for cell in student_nb.cells:
        if cell.get("cell_type") != "code":
            continue
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        if grade_id in answer_ids:
            answers[grade_id].append(text)
            anchor = grade_id
        elif grade_id in locked_ids:
            copies.setdefault(grade_id, []).append(text)
            anchor = grade_id
        else:
            if grade_id:
                out.notes.append(f"cell with unknown grade id {grade_id!r} run as your own code")
            added_after.setdefault(anchor, []).append(text)

    # Edited locked and test cells; deleted ones are simply restored.
    edited: dict[str, str] = {}
    for grade_id in locked_ids:
        if grade_id not in released:
            continue
        want = _normalized(released[grade_id].source)
        got = copies.get(grade_id, [])
        if not got:
            out.notes.append(f"restored deleted cell {grade_id}")
        elif all(_normalized(t) == want for t in got):
            if len(got) > 1:
                out.notes.append(f"ignored a duplicate of cell {grade_id}")
        elif _normalized("\n".join(got)) == want:
            out.notes.append(f"rejoined split cell {grade_id}")
        else:
            edited[grade_id] = f"the locked cell {grade_id} was edited"

    last_test = max((i for i, c in enumerate(source_cells) if notebooks.is_autograded_test(c)),
                    default=-1)
    aliases: dict[str, str] = {}
    pending: list[tuple[str, list[scan.Finding]]] = []  # findings not tied to one exercise
    plans: list[TestPlan] = []
    student_code: dict[str, list[str]] = {}  # answer id -> its code (for forbidden names)

    def add_code(text: str, origin: str) -> None:
        out.steps.append(Step("code", text, origin))
        if origin.startswith("locked:"):
            scan.scan(text, aliases)  # only to learn its imports
            return
        findings, names = scan.scan(text, aliases)
        if findings:
            pending.append((origin, findings))
        if origin.startswith("answer:"):
            student_code.setdefault(origin.removeprefix("answer:"), []).extend(names)

    for text in added_after.get(None, []):
        add_code(text, "student")
    for index, cell in enumerate(source_cells):
        if index > last_test:
            break
        meta = notebooks.nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if cell.cell_type != "code":
            continue
        if grade_id in answer_ids:
            for text in answers[grade_id] or [""]:
                add_code(text, f"answer:{grade_id}")
        elif notebooks.is_autograded_test(cell):
            plan = test_plan(cell)
            plans.append(plan)
            out.steps.append(Step("test", origin=f"locked:{grade_id}", test=plan))
            reasons = [r for _, findings in pending for r in (f.reason for f in findings)]
            if grade_id in edited:
                reasons.insert(0, edited[grade_id])
            reasons += [edited[g] for g in edited if g != grade_id
                        and not notebooks.is_autograded_test(source_ids[g])]
            for exercise_name, function in plan.exercises:
                exercise = exercises.get(f"{plan.module}.{exercise_name}")
                names = student_code.get(function, []) + student_code.get(exercise_name, [])
                if exercise is not None:
                    reasons += [f.reason for f in scan.forbidden_uses(names, exercise)]
            if reasons:
                out.tampered[grade_id] = list(dict.fromkeys(reasons))
        elif grade_id:
            add_code(cell.source, f"locked:{grade_id}")
        else:
            pass  # an unmarked source cell: the student's copy runs (among the added cells)
        for text in added_after.get(grade_id, []) if grade_id else []:
            add_code(text, "student")
    return out
