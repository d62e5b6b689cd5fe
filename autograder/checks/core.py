"""The machinery every assignment's checks are built from.

An :class:`Exercise` bundles, for one student function:

* ``visible``: a function returning the cases a student sees and runs in the notebook;
* ``hidden``: a function of a seeded :class:`numpy.random.Generator` returning the cases
  only the grader runs (the ``### BEGIN HIDDEN TESTS`` block of a test cell);
* ``oracle``: computes the expected result of one case (PyTorch wherever it has an
  equivalent);
* ``compare``: decides whether the student's result matches, raising :class:`CheckFailure`
  with a message that says what was expected.

Calling the student's function (:meth:`Exercise.call`), computing the expected value
(:meth:`Exercise.expected`) and comparing (:meth:`Exercise.compare`) are separate steps, so a
grading engine can run the first in a sandbox and decide the verdict in its own process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The public half (shipped to students in the kit) is re-exported here for the check modules.
from wwit.checks.core import (  # noqa: F401
    Case,
    CheckFailure,
    assert_close,
    call_default,
    check_close,
    compare_trajectory,
    describe,
    require_float64,
    require_ndarray,
    require_number,
    unpack,
)
from wwit.checks.visible import pass_line

#: Seed of the hidden cases. Instructors may change it per term; see ``Exercise.cases``.
HIDDEN_SEED = 20261122


@dataclass
class Exercise:
    """The checks of one exercise (one student function or class).

    Attributes:
        name: The exercise's name, equal to the function name and the answer cell's grade id.
        visible: Returns the visible cases.
        hidden: Returns the hidden cases for a seeded generator.
        oracle: ``oracle(case) -> expected``.
        compare: ``compare(got, expected, case)``; raises :class:`CheckFailure` on mismatch.
        call: Optional ``call(impl, case) -> got`` when calling needs more than
            ``impl(*args, **kwargs)`` (for example building a model first). The default also
            fails when the function modified one of its array arguments.
        forbidden: Dotted-name prefixes the answer must not use, because they would do the
            exercise for the student (``torch.optim`` in a numpy optimizer step). The grading
            engine flags them in the answer's code and in what runs during its cases.
        allowed: Exceptions to ``forbidden`` (``torch.optim.optimizer``: the base class a
            student's optimizer subclasses).
        clauses: The docstring's contract, clause by clause: a short key -> the sentence (or
            phrase) of the answer cell's docstring that constrains behaviour, quoted verbatim.
            Each hidden case names the clauses it exercises in ``Case.covers``;
            ``tests/implementation_suite.py`` proves that every clause is covered, that it is
            still in the docstring, and that an implementation breaking only that clause fails
            a case covering it.
    """

    name: str
    visible: Callable[[], Sequence[Case]]
    hidden: Callable[[np.random.Generator], Sequence[Case]]
    oracle: Callable[[Case], Any]
    compare: Callable[[Any, Any, Case], None]
    call: Callable[[Callable, Case], Any] | None = None
    forbidden: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    clauses: Mapping[str, str] = field(default_factory=dict)

    def uses_forbidden(self, dotted_name: str) -> bool:
        """True when ``dotted_name`` (a module or attribute path) is forbidden here."""
        def under(prefix: str) -> bool:
            return dotted_name == prefix or dotted_name.startswith(prefix + ".")
        return any(map(under, self.forbidden)) and not any(map(under, self.allowed))

    def cases(self, hidden: bool = False, seed: int = HIDDEN_SEED) -> list[Case]:
        """Return the visible cases, or the hidden ones generated from ``seed``."""
        if hidden:
            return list(self.hidden(np.random.default_rng(seed)))
        return list(self.visible())

    def run_case(self, impl: Callable, case: Case) -> Any:
        """Call the student's implementation on one case and return its result."""
        if self.call is not None:
            return self.call(impl, case)
        return call_default(self.name, impl, case)

    def expected(self, case: Case) -> Any:
        """Return the oracle's result for one case."""
        return self.oracle(case)

    def check_case(self, impl: Callable, case: Case) -> None:
        """Run one case end to end; raise :class:`CheckFailure` with context on mismatch."""
        got = self.run_case(impl, case)
        try:
            self.compare(got, self.expected(case), case)
        except CheckFailure as failure:
            raise CheckFailure(f"{self.name}, case {case.label}: {failure}") from None

    def check(self, impl: Callable, hidden: bool = False, quiet: bool = False,
              seed: int = HIDDEN_SEED) -> int:
        """Run every case; raise on the first failure, else return the number of cases."""
        if not callable(impl):
            raise CheckFailure(f"{self.name} must be a function, got {type(impl).__name__}")
        cases = self.cases(hidden=hidden, seed=seed)
        for case in cases:
            self.check_case(impl, case)
        if not quiet:
            kind = "hidden" if hidden else "visible"
            print(pass_line(self.name, [case.label for case in cases], kind))
        return len(cases)

    def run_visible(self, impl: Callable) -> None:
        """Check the visible cases (used by the notebook's test cell)."""
        self.check(impl, hidden=False)

    def run_hidden(self, impl: Callable) -> None:
        """Check the hidden cases (used inside ``### BEGIN HIDDEN TESTS``)."""
        self.check(impl, hidden=True, quiet=True)
