"""The student kit: nothing hidden leaks into it, and its visible checks judge like the grader's.

The kit is built once per session with ``python -m autograder kit`` (every assignment), then:

* it holds no source notebook, no ``autograder`` code, no copy of an instructor check module, no
  solution (as text or as a function whose normalized AST equals a solved one), no hidden seed,
  hidden-case generator, oracle or ``run_hidden``;
* every ``CORRECT`` and ``WRONG`` implementation of ``tests/implementations/`` gets the same
  visible verdict (pass, or the same first failing case) from the kit, run without the
  ``autograder`` package, as from the instructor's visible check;
* a fresh copy of the kit, unzipped and set up with its own ``make check``, checks a solved
  notebook as all passed and the stub as all not attempted.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, source_notebooks

from autograder import notebooks
from autograder.checks import assignment_modules, assignment_names
from autograder.checks.core import HIDDEN_SEED, Exercise
from autograder.kit import DEV_REQUIREMENTS

IMPLEMENTATIONS = ROOT / "tests" / "implementations"
SECRET_MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "run_hidden", "HIDDEN_SEED",
                  str(HIDDEN_SEED))


@pytest.fixture(scope="session")
def kit(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kit") / "course-kit"
    run = subprocess.run([sys.executable, "-m", "autograder", "kit", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return out


def _kit_texts(kit: Path) -> dict[str, str]:
    """Every file of the kit folder and of its zip, as text."""
    texts = {str(p.relative_to(kit)): p.read_text(encoding="utf-8", errors="replace")
             for p in kit.rglob("*") if p.is_file()}
    with zipfile.ZipFile(kit.with_name(kit.name + ".zip")) as zf:
        for name in zf.namelist():
            texts[f"zip:{name}"] = zf.read(name).decode("utf-8", errors="replace")
    return texts


def _hidden_names() -> dict[str, str]:
    """Module-level names of every oracle and hidden-case generator -> what it is."""
    names = {}
    for module in assignment_modules():
        for exercise in module.EXERCISES.values():
            names[exercise.oracle.__qualname__.split(".")[0]] = f"oracle of {exercise.name}"
            names[exercise.hidden.__qualname__.split(".")[0]] = f"hidden cases of {exercise.name}"
    return names


def test_kit_holds_what_a_student_needs(kit):
    top = {p.name for p in kit.iterdir()}
    assert {"notebooks", "lectures", "wwit", "requirements.txt", "Makefile", "README.md"} <= top
    assert not top & {"source", "autograder", "tests", "bench", "nbgrader_config.py"}
    for path in sorted((ROOT / "notebooks").glob("*/*.ipynb")):
        assert (kit / path.relative_to(ROOT)).read_bytes() == path.read_bytes()
    for name in assignment_names():
        assert (kit / "wwit" / "checks" / name / "cases.json").is_file()
    # Every lecture of every topic (a topic in parts too) and the notation page.
    assert sorted(p.name for p in (kit / "lectures").iterdir()) == sorted(
        p.name for p in (ROOT / "lectures").glob("*.ipynb"))
    requirements = (kit / "requirements.txt").read_text()
    assert "torch==2.13.0" in requirements and "nbgrader==" in requirements
    assert not [name for name in DEV_REQUIREMENTS if name in requirements]
    with zipfile.ZipFile(kit.with_name(kit.name + ".zip")) as zf:
        zipped = {n.split("/", 1)[1] for n in zf.namelist()}
    assert zipped == {str(p.relative_to(kit)) for p in kit.rglob("*") if p.is_file()}


def test_no_hidden_marker_seed_or_generator_in_the_kit(kit):
    texts = _kit_texts(kit)
    for name, text in texts.items():
        for marker in SECRET_MARKERS:
            assert marker not in text, f"{marker!r} in the kit's {name}"
        for hidden, what in _hidden_names().items():
            assert not re.search(rf"\b{re.escape(hidden)}\b", text), f"{what} in {name}"


def test_no_instructor_check_module_is_copied(kit):
    kit_files = {p.read_bytes() for p in kit.rglob("*.py")}
    for module in (ROOT / "autograder").rglob("*.py"):
        assert module.read_bytes() not in kit_files, f"{module.relative_to(ROOT)} is in the kit"
    assert not list(kit.rglob("autograder*"))


def _normalized(node: ast.AST) -> str:
    """A definition's AST without its name and docstrings, so a renamed copy still matches."""
    node = ast.parse(ast.unparse(node)).body[0]
    for sub in ast.walk(node):
        body = getattr(sub, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            sub.body = body[1:] or [ast.Pass()]
    if hasattr(node, "name"):
        node.name = "_"
    return ast.dump(node, annotate_fields=False)


def _definitions(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {_normalized(n) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _kit_definitions(kit: Path) -> set[str]:
    found: set[str] = set()
    for path in kit.rglob("*.py"):
        found |= _definitions(path.read_text(encoding="utf-8"))
    for path in kit.rglob("*.ipynb"):
        for cell in notebooks.read(path).cells:
            if cell.cell_type == "code":
                found |= _definitions(cell.source)
    return found


def _solutions() -> list[tuple[str, str, str]]:
    """(where, code, answer) of every solution cell of ``source/``: the cell's code without the
    markers, and the part between ``### BEGIN SOLUTION`` and ``### END SOLUTION``."""
    out = []
    for path in source_notebooks():
        for grade_id, cell in notebooks.answer_cells(notebooks.read(path)).items():
            answer = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source,
                                flags=re.S)
            out.append((f"{path.name}:{grade_id}",
                        notebooks.without_solution_markers(cell.source), "\n".join(answer)))
    return out


def _written_answers() -> list[tuple[str, list[str]]]:
    """(where, paragraphs) of the model answer and rubric of every written answer (manually
    graded markdown cell) of ``source/``."""
    out = []
    for path in source_notebooks():
        for cell in notebooks.read(path).cells:
            if notebooks.is_written_answer(cell):
                where = f"{path.name}:{notebooks.nbgrader_meta(cell)['grade_id']}"
                text = notebooks.without_solution_markers(cell.source)
                out.append((where, [p for p in re.split(r"\n\s*\n", text) if p.strip()]))
    return out


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _leaks(kit: Path) -> list[str]:
    squash = _squash
    texts = {name: squash(text) for name, text in _kit_texts(kit).items()}
    defined = _kit_definitions(kit)
    for path in kit.rglob("*.ipynb"):  # markdown as a reader sees it, not JSON-escaped
        cells = notebooks.read(path).cells
        texts[f"{path.relative_to(kit)}:cells"] = squash("\n".join(c.source for c in cells))
    leaks = []
    for where, paragraphs in _written_answers():
        for paragraph in paragraphs:
            body = squash(paragraph)
            if len(body) > 40 and any(body in text for text in texts.values()):
                leaks.append(f"{where}: its model answer or rubric")
                break
    for where, code, answer in _solutions():
        body = squash(answer)
        if len(body) > 40 and any(body in text for text in texts.values()):
            leaks.append(f"{where}: its code")
        leaks += [f"{where}: a solved definition" for d in _definitions(code) if d in defined]
    return leaks


def test_no_solution_in_the_kit(kit):
    assert _leaks(kit) == []


def test_the_leak_detector_finds_a_renamed_solution(kit, tmp_path):
    """A copy of the kit with one solved function renamed into a helper module must fail."""
    copy = tmp_path / "kit"
    shutil.copytree(kit, copy)
    shutil.copy2(kit.with_name(kit.name + ".zip"), copy.with_name("kit.zip"))
    where, code, _ = next(s for s in _solutions() if "def " in s[1])
    tree = ast.parse(code)
    solved = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    solved.name = "innocent_helper"
    (copy / "wwit" / "helper.py").write_text(ast.unparse(solved) + "\n")
    assert any(where in leak for leak in _leaks(copy))


def test_the_leak_detector_finds_a_model_answer(kit, tmp_path):
    """A copy of the kit whose released notebook holds a written answer's rubric must fail."""
    copy = tmp_path / "kit"
    shutil.copytree(kit, copy)
    shutil.copy2(kit.with_name(kit.name + ".zip"), copy.with_name("kit.zip"))
    where, paragraphs = _written_answers()[0]
    path = next(copy.rglob(where.split(":")[0]))
    nb = notebooks.read(path)
    nb.cells[-1].source += "\n\n" + paragraphs[-1]
    notebooks.write(nb, path)
    assert any(where in leak for leak in _leaks(copy))


def test_written_answers_are_released_as_placeholders():
    """Every written answer reaches students as nbgrader's placeholder, with its points."""
    answers = _written_answers()
    assert answers
    for path in source_notebooks():
        released = ROOT / "notebooks" / path.parent.name / path.name
        cells = {notebooks.nbgrader_meta(c).get("grade_id"): c
                 for c in notebooks.read(released).cells}
        for cell in notebooks.read(path).cells:
            if notebooks.is_written_answer(cell):
                meta = notebooks.nbgrader_meta(cell)
                student = cells[meta["grade_id"]]
                assert student.source == "YOUR ANSWER HERE", meta["grade_id"]
                assert notebooks.nbgrader_meta(student)["points"] == meta["points"]


# ---------------------------------------------------------------------------------------------
# Same verdicts from the kit as from the instructor's visible check.
# ---------------------------------------------------------------------------------------------


def _implementation_modules() -> dict[str, str]:
    """Implementation module name -> the assignment it implements (by its ``aNN_`` prefix)."""
    out = {}
    for path in sorted(IMPLEMENTATIONS.glob("a*.py")):
        prefix = path.stem.split("_")[0] + "_"
        out[path.stem] = next(a for a in assignment_names() if a.startswith(prefix))
    return out


def _instructor_verdict(exercise: Exercise, impl) -> list:
    """None when every visible case passes, else [index, label] of the first failing case."""
    for index, case in enumerate(exercise.cases()):
        try:
            exercise.check_case(impl, case)
        except Exception:  # noqa: BLE001 - any exception fails the case
            return [index, case.label]
    return None


#: Runs in a subprocess with only the kit (and the implementations) importable as course code.
_KIT_VERDICTS = r"""
import importlib, json, sys
kit, tests, plan = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [kit, tests]
verdicts = {}
for module_name, assignment in plan.items():
    impls = importlib.import_module(f"implementations.{module_name}")
    checks = importlib.import_module(f"wwit.checks.{assignment}")
    for kind in ("CORRECT", "WRONG"):
        for exercise, functions in getattr(impls, kind).items():
            visible = checks.EXERCISES[exercise]
            for fn in functions:
                verdict = None
                for index, case in enumerate(visible.cases):
                    try:
                        visible.check_case(fn, index)
                    except Exception:
                        verdict = [index, case.label]
                        break
                verdicts[f"{module_name}.{exercise}.{fn.__name__}"] = verdict
assert "autograder" not in sys.modules, "the kit imported the instructor's package"
assert importlib.import_module("wwit").__file__.startswith(kit)
print(json.dumps(verdicts))
"""


@pytest.mark.slow
def test_kit_verdicts_equal_the_instructors(kit):
    plan = _implementation_modules()
    run = subprocess.run([sys.executable, "-c", _KIT_VERDICTS, str(kit),
                          str(IMPLEMENTATIONS.parent), json.dumps(plan)], cwd=kit,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    from_kit = json.loads(run.stdout)
    expected = {}
    for module_name, assignment in plan.items():
        impls = importlib.import_module(f"implementations.{module_name}")
        exercises = importlib.import_module(f"autograder.checks.{assignment}").EXERCISES
        for kind in ("CORRECT", "WRONG"):
            for exercise, functions in getattr(impls, kind).items():
                for fn in functions:
                    expected[f"{module_name}.{exercise}.{fn.__name__}"] = _instructor_verdict(
                        exercises[exercise], fn)
    assert from_kit == expected
    assert any(v is not None for v in expected.values())  # some wrong answers fail visibly


# ---------------------------------------------------------------------------------------------
# A fresh kit, set up by its own commands.
# ---------------------------------------------------------------------------------------------


def _solved(released: Path, source: Path) -> object:
    """The released notebook with every answer cell replaced by the source's solution."""
    nb = notebooks.read(released)
    solutions = notebooks.answer_cells(notebooks.read(source))
    for grade_id, cell in notebooks.answer_cells(nb).items():
        cell.source = notebooks.without_solution_markers(solutions[grade_id].source)
    return nb


def _make(kit: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    return subprocess.run(["make", "--no-print-directory", *args], cwd=kit, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_fresh_kit_checks_solved_and_stub_notebooks(kit, tmp_path):
    with zipfile.ZipFile(kit.with_name(kit.name + ".zip")) as zf:
        zf.extractall(tmp_path)
    fresh = tmp_path / kit.name
    stub = "notebooks/a01_critical_points/critical_points.ipynb"
    run = _make(fresh, "check", f"NB={stub}")
    assert run.returncode != 0, run.stdout + run.stderr
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("  ")]
    assert lines and all(" not attempted" in ln for ln in lines), run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    for source in source_notebooks():
        released = Path("notebooks") / source.parent.name / source.name
        solved = fresh / released.with_name("solved_" + source.name)
        notebooks.write(_solved(fresh / released, source), solved)
        run = _make(fresh, "check", f"NB={solved.relative_to(fresh)}")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "FAIL" not in run.stdout and "TODO" not in run.stdout
    python = fresh / ".venv" / "bin" / "python"
    alone = subprocess.run([str(python), "-c", "import autograder"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert alone.returncode != 0, "the kit's environment can import the instructor's package"
    path = _make(fresh, "--eval", "show-path: ; @echo $$PATH", "show-path")
    assert path.stdout.split(os.pathsep)[0] == str(fresh / ".venv" / "bin")
