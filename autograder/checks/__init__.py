"""Every exercise's cases, oracle and comparison: one module (or package) per assignment.

``autograder.checks.<assignment>`` exports ``EXERCISES`` (exercise name ->
:class:`~autograder.checks.core.Exercise`); :mod:`autograder.checks.core` holds the machinery.
The list of assignments is discovered here, never written out by hand: the grading engine
preloads and monitors every module this finds.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

#: Modules of this package that are not an assignment's checks.
NOT_ASSIGNMENTS = frozenset({"core"})


def assignment_names() -> list[str]:
    """Names of the assignments that have checks, sorted."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__)
                  if info.name not in NOT_ASSIGNMENTS and not info.name.startswith("_"))


def assignment_modules() -> list[ModuleType]:
    """Every assignment's check module, imported."""
    return [importlib.import_module(f"{__name__}.{name}") for name in assignment_names()]
