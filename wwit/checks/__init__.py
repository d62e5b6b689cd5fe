"""The visible checks of the assignments, as a student's notebook runs them.

A test cell writes ``from wwit.checks import a01_critical_points as checks`` and then
``checks.numerical_gradient.run_visible(numerical_gradient)``.

* In the student kit, ``wwit/checks/<assignment>/`` is a package that ``autograder kit``
  generated: the visible cases and their expected results as data (``cases.json``) and the
  comparisons. It holds no hidden case, no hidden seed and no code that computes an answer.
* In the instructor's repository there is no such package: the same cell runs the visible cases
  of the full checks, ``autograder.checks.<assignment>``, through the same runner
  (:mod:`wwit.checks.visible`), so it shows the same messages.

Modules: ``core`` (cases, comparisons), ``visible`` (the runner), ``data`` (the case file),
``notebook`` (``python -m wwit.checks NOTEBOOK``, a student's self-check), ``runner`` (its cells
run in a child Python process, no Jupyter kernel) and ``warm`` (the helper process that keeps
the libraries loaded between checks).
"""

from __future__ import annotations

import importlib
import types
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_views: dict[str, types.SimpleNamespace] = {}


def _instructor_view(name: str) -> types.SimpleNamespace:
    from wwit.checks.visible import from_exercise

    try:
        module = importlib.import_module(f"autograder.checks.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"no checks for assignment {name!r}: this folder has no "
                             f"wwit/checks/{name}/ (is the course kit complete?)") from None
    exercises = {key: from_exercise(ex) for key, ex in module.EXERCISES.items()}
    return types.SimpleNamespace(EXERCISES=exercises, **exercises)


def __getattr__(name: str):
    if name.startswith("_") or not name.isidentifier():
        raise AttributeError(name)
    if (_HERE / f"{name}.py").is_file() or (_HERE / name / "__init__.py").is_file():
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _views:
        _views[name] = _instructor_view(name)
    return _views[name]
