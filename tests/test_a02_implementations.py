"""The hidden cases of a02 accept alternative correct implementations and reject mistakes."""

from __future__ import annotations

import pytest
from implementations.a02_batch_momentum import CORRECT, WRONG

from autograder.checks.a02_batch_momentum import EXERCISES
from autograder.checks.core import CheckFailure

SEEDS = [None, 1, 2]  # None: the default hidden seed


def _params(table):
    return [pytest.param(name, impl, id=impl.__name__)
            for name, impls in table.items() for impl in impls]


def _check(name, impl, hidden, seed):
    kwargs = {} if seed is None else {"seed": seed}
    return EXERCISES[name].check(impl, hidden=hidden, quiet=True, **kwargs)


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
@pytest.mark.parametrize(("name", "impl"), _params(CORRECT))
def test_correct_implementation_passes(name, impl, hidden):
    assert _check(name, impl, hidden, None) > 0


@pytest.mark.parametrize("seed", SEEDS, ids=["default-seed", "seed1", "seed2"])
@pytest.mark.parametrize(("name", "impl"), _params(WRONG))
def test_wrong_implementation_is_rejected(name, impl, seed):
    """Any exception counts as a failed test cell; most mistakes must give a CheckFailure."""
    with pytest.raises(CheckFailure if "crashes" not in impl.__name__ else Exception):
        _check(name, impl, True, seed)


def test_catalogue_covers_every_exercise():
    assert set(CORRECT) == set(EXERCISES) == set(WRONG)
    for name in EXERCISES:
        assert len(CORRECT[name]) >= 1 and len(WRONG[name]) >= 2, name
    for impls in (*CORRECT.values(), *WRONG.values()):
        assert all(impl.__doc__ for impl in impls)
