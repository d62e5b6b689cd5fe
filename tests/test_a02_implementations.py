"""The hidden cases of a02 accept alternative correct implementations and reject mistakes."""

from __future__ import annotations

from implementation_suite import define_tests
from implementations.a02_batch_momentum import CORRECT, WRONG

from autograder.checks.a02_batch_momentum import EXERCISES

define_tests(globals(), EXERCISES, CORRECT, WRONG,
             any_exception=frozenset({"wrong_sgd_crashes_on_missing_grad"}),
             assignment="a02_batch_momentum")
