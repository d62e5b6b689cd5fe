"""The shared test suite of an assignment's implementation library.

Each ``tests/test_<assignment>_implementations.py`` calls :func:`define_tests` with its
exercises and its ``CORRECT``/``WRONG`` implementations, and gets the standard tests:

* every correct alternative passes the visible and the hidden cases, at the default hidden seed
  and at other seeds (instructors may change ``HIDDEN_SEED`` each term);
* every implementation with a common mistake is rejected by the hidden cases with a
  :class:`CheckFailure` (with an expected phrase in the message where one is given), at every
  seed;
* the catalogue covers every exercise with at least one correct and two wrong implementations,
  each documented and uniquely named;
* with ``assignment`` given, the docstring contract: every exercise lists its ``clauses``, each
  clause is still quoted verbatim in the answer cell's docstring of ``source/<assignment>/``,
  is covered by a hidden case, and is broken by a wrong implementation (marked with
  :func:`breaks`) that fails a hidden case covering it.

Known defects of the checks are recorded, not hidden: ``check_gaps`` (wrong implementations the
checks accept) and ``rejected_correct`` (correct ones they reject) become ``xfail(strict=True)``,
so fixing the checks makes the test XPASS, and fail, until the entry is removed.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from implementations import breaks  # noqa: F401 - re-exported for the implementation modules

from autograder import notebooks
from autograder.checks.core import HIDDEN_SEED, CheckFailure, Exercise

OTHER_SEEDS = (1, 2)
ROOT = Path(__file__).resolve().parents[1]


def _words(text: str) -> str:
    return " ".join(text.split())


@functools.cache
def answer_docstrings(assignment: str) -> dict[str, str]:
    """Every docstring of each answer cell of ``source/<assignment>/``, joined, by grade id."""
    found = {}
    for path in sorted((ROOT / "source" / assignment).glob("*.ipynb")):
        for grade_id, cell in notebooks.answer_cells(notebooks.read(path)).items():
            tree = ast.parse(notebooks.without_solution_markers(cell.source))
            docs = [ast.get_docstring(node) or "" for node in ast.walk(tree)
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))]
            found[grade_id] = _words(" ".join(docs))
    return found


def define_tests(
    namespace: dict[str, Any],
    exercises: Mapping[str, Exercise],
    correct: Mapping[str, Sequence[Callable]],
    wrong: Mapping[str, Sequence[Callable]],
    check_gaps: Mapping[str, str] | None = None,
    rejected_correct: Mapping[str, str] | None = None,
    expected_message: Mapping[str, str] | None = None,
    any_exception: frozenset[str] = frozenset(),
    assignment: str | None = None,
    seed_free: frozenset[str] = frozenset(),
) -> None:
    """Add the standard implementation tests to a test module's ``namespace`` (its globals()).

    Args:
        namespace: The calling module's ``globals()``.
        exercises: Exercise name -> :class:`Exercise`.
        correct: Exercise name -> alternative correct implementations.
        wrong: Exercise name -> implementations with a common mistake.
        check_gaps: Wrong implementation name -> why the checks accept it (xfail).
        rejected_correct: Correct implementation name -> why the checks reject it (xfail).
        expected_message: Wrong implementation name -> phrase its failure message must contain.
        any_exception: Wrong implementations for which any exception counts as a rejection
            (the grader fails a test cell on any exception, not only a CheckFailure).
        assignment: When given, also test the docstring contract (``Exercise.clauses``)
            against the answer cells of ``source/<assignment>/``.
        seed_free: Exercises whose hidden cases do not depend on the hidden seed (a07's
            fine-tuning runs at fixed seeds, where its margin was measured): they are not rerun
            at other seeds, and a test proves that their cases are indeed the same.
    """
    check_gaps = dict(check_gaps or {})
    rejected_correct = dict(rejected_correct or {})
    expected_message = dict(expected_message or {})

    def correct_params(hidden_only: bool = False) -> list:
        params = []
        for name, impls in correct.items():
            if hidden_only and name in seed_free:
                continue
            for impl in impls:
                for hidden in ((True,) if hidden_only else (False, True)):
                    marks = ()
                    if hidden and impl.__name__ in rejected_correct:
                        marks = pytest.mark.xfail(reason=rejected_correct[impl.__name__],
                                                  strict=True)
                    kind = "hidden" if hidden else "visible"
                    params.append(pytest.param(name, impl, hidden, id=f"{impl.__name__}-{kind}",
                                               marks=marks))
        return params

    def wrong_params(other_seeds: bool = False) -> list:
        params = []
        for name, impls in wrong.items():
            if other_seeds and name in seed_free:
                continue
            for impl in impls:
                marks = ()
                if impl.__name__ in check_gaps:
                    marks = pytest.mark.xfail(reason=check_gaps[impl.__name__], strict=True)
                params.append(pytest.param(name, impl, id=impl.__name__, marks=marks))
        return params

    def rejection(impl: Callable, phrase: str | None = None):
        if impl.__name__ in any_exception:
            return pytest.raises(Exception)  # noqa: B017 - any exception fails the test cell
        return pytest.raises(CheckFailure, match=re.escape(phrase) if phrase else None)

    @pytest.mark.parametrize(("name", "impl", "hidden"), correct_params())
    def test_correct_implementation_passes(name, impl, hidden):
        """A correct alternative passes every case of its exercise."""
        assert exercises[name].check(impl, hidden=hidden, quiet=True) > 0

    @pytest.mark.parametrize("seed", OTHER_SEEDS)
    @pytest.mark.parametrize(("name", "impl", "hidden"), correct_params(hidden_only=True))
    def test_correct_implementation_passes_at_other_seeds(name, impl, hidden, seed):
        assert exercises[name].check(impl, hidden=True, quiet=True, seed=seed) > 0

    @pytest.mark.parametrize(("name", "impl"), wrong_params())
    def test_wrong_implementation_is_rejected_by_hidden_cases(name, impl):
        """An implementation with a common mistake fails the hidden cases."""
        with rejection(impl, expected_message.get(impl.__name__)):
            exercises[name].check(impl, hidden=True, quiet=True)

    @pytest.mark.parametrize("seed", OTHER_SEEDS)
    @pytest.mark.parametrize(("name", "impl"), wrong_params(other_seeds=True))
    def test_wrong_implementation_is_rejected_at_other_seeds(name, impl, seed):
        """Instructors may change HIDDEN_SEED each term: the mistakes must still be caught."""
        with rejection(impl):
            exercises[name].check(impl, hidden=True, quiet=True, seed=seed)

    def test_catalogue_covers_every_exercise():
        """Each exercise has at least one correct and two wrong implementations, documented."""
        assert set(correct) == set(exercises) == set(wrong)
        for name in exercises:
            usable = [f for f in correct[name] if f.__name__ not in rejected_correct]
            assert len(usable) >= 1, name
            assert len([f for f in wrong[name] if f.__name__ not in check_gaps]) >= 2, name
        everything = [impl for table in (correct, wrong) for impls in table.values()
                      for impl in impls]
        names = [impl.__name__ for impl in everything]
        assert len(names) == len(set(names)), "implementation names must be unique (test ids)"
        assert all(impl.__doc__ and impl.__doc__.strip() for impl in everything)
        wrong_names = {impl.__name__ for impls in wrong.values() for impl in impls}
        correct_names = {impl.__name__ for impls in correct.values() for impl in impls}
        assert set(check_gaps) <= wrong_names, set(check_gaps) - wrong_names
        assert set(expected_message) <= wrong_names, set(expected_message) - wrong_names
        assert set(rejected_correct) <= correct_names, set(rejected_correct) - correct_names

    @pytest.mark.parametrize("name", sorted(seed_free))
    def test_seed_free_cases_do_not_depend_on_the_seed(name):
        def summary(seed: int) -> list:
            return [(case.label, repr(case.args), repr(case.kwargs), repr(case.data))
                    for case in exercises[name].cases(hidden=True, seed=seed)]
        assert all(summary(seed) == summary(HIDDEN_SEED) for seed in OTHER_SEEDS), name

    tests = [test_correct_implementation_passes,
             test_correct_implementation_passes_at_other_seeds,
             test_wrong_implementation_is_rejected_by_hidden_cases,
             test_wrong_implementation_is_rejected_at_other_seeds,
             test_catalogue_covers_every_exercise]
    if seed_free:
        tests.append(test_seed_free_cases_do_not_depend_on_the_seed)
    if assignment is not None:
        tests += _contract_tests(assignment, exercises, wrong)
    for test in tests:
        namespace[test.__name__] = test


def _contract_tests(assignment: str, exercises: Mapping[str, Exercise],
                    wrong: Mapping[str, Sequence[Callable]]) -> list[Callable]:
    """The docstring-contract tests of one assignment (see the module docstring)."""
    clause_params = [pytest.param(name, key, id=f"{name}-{key}")
                     for name, exercise in exercises.items() for key in exercise.clauses]
    breaker_params = [pytest.param(name, impl, id=impl.__name__)
                      for name, impls in wrong.items() for impl in impls
                      if getattr(impl, "breaks", None)]

    def test_every_exercise_states_its_contract():
        """Each exercise lists its clauses; every hidden case says which ones it covers."""
        for name, exercise in exercises.items():
            assert exercise.clauses, f"{name}: no clauses listed"
            for case in exercise.cases(hidden=True):
                assert case.covers, f"{name}, hidden case {case.label!r}: covers no clause"
                unknown = set(case.covers) - set(exercise.clauses)
                assert not unknown, f"{name}, hidden case {case.label!r}: unknown {unknown}"

    @pytest.mark.parametrize(("name", "key"), clause_params)
    def test_clause_is_quoted_in_the_docstring(name, key):
        """The clause is a verbatim part of the answer cell's docstring (whitespace aside)."""
        docstrings = answer_docstrings(assignment)
        assert name in docstrings, f"no answer cell {name!r} in source/{assignment}/"
        assert _words(exercises[name].clauses[key]) in docstrings[name], (
            f"{name}: clause {key!r} is not in the docstring: {exercises[name].clauses[key]!r}")

    @pytest.mark.parametrize(("name", "key"), clause_params)
    def test_clause_is_covered_and_broken(name, key):
        """A hidden case covers the clause, and some wrong implementation breaks only it."""
        covering = [c for c in exercises[name].cases(hidden=True) if key in c.covers]
        assert covering, f"{name}: no hidden case covers clause {key!r}"
        breakers = [impl for impl in wrong[name] if getattr(impl, "breaks", None) == key]
        assert breakers, f"{name}: no wrong implementation breaks only clause {key!r}"

    @pytest.mark.parametrize(("name", "impl"), breaker_params)
    def test_breaker_fails_a_case_covering_its_clause(name, impl):
        """The implementation breaking one clause fails on a hidden case that covers it."""
        exercise = exercises[name]
        assert impl.breaks in exercise.clauses, f"{impl.__name__}: unknown clause {impl.breaks!r}"
        failed = []
        for case in exercise.cases(hidden=True):
            if impl.breaks not in case.covers:
                continue
            try:
                exercise.check_case(impl, case)
            except Exception:  # noqa: BLE001 - any exception fails the test cell
                failed.append(case.label)
        assert failed, f"{impl.__name__} passes every hidden case covering {impl.breaks!r}"

    return [test_every_exercise_states_its_contract, test_clause_is_quoted_in_the_docstring,
            test_clause_is_covered_and_broken, test_breaker_fails_a_case_covering_its_clause]
