"""Unit tests of the checks framework (autograder.checks.core)."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks.core import Case, CheckFailure, Exercise, assert_close, require_ndarray


def _double_exercise() -> Exercise:
    def compare(got, expected, case):
        require_ndarray(got, expected.shape)
        assert_close(got, expected, atol=1e-12)

    return Exercise(
        name="double",
        visible=lambda: [Case("ones", (np.ones(3),))],
        hidden=lambda rng: [Case("random", (rng.normal(size=4),))],
        oracle=lambda case: 2 * case.args[0],
        compare=compare,
    )


def test_correct_passes_visible_and_hidden(capsys):
    ex = _double_exercise()
    ex.run_visible(lambda x: x * 2)
    assert capsys.readouterr().out == "double: 1 visible case passed (ones)\n"
    ex.run_hidden(lambda x: x + x)
    assert capsys.readouterr().out == ""


def test_wrong_answer_message_says_what_was_expected():
    with pytest.raises(CheckFailure, match=r"double, case ones: expected array"):
        _double_exercise().run_visible(lambda x: x * 3)


def test_mutating_the_input_fails():
    def in_place(x):
        x *= 2
        return x

    with pytest.raises(CheckFailure, match="modified its input"):
        _double_exercise().run_visible(in_place)


def test_hidden_cases_are_seeded():
    ex = _double_exercise()
    a, b = ex.cases(hidden=True), ex.cases(hidden=True)
    assert np.array_equal(a[0].args[0], b[0].args[0])
    assert not np.array_equal(a[0].args[0], ex.cases(hidden=True, seed=1)[0].args[0])


def test_ndarray_subclass_and_wrong_shape_rejected():
    class Sneaky(np.ndarray):
        pass

    with pytest.raises(CheckFailure, match="numpy.ndarray"):
        require_ndarray(np.zeros(3).view(Sneaky), (3,))
    with pytest.raises(CheckFailure, match="shape"):
        require_ndarray(np.zeros(4), (3,))
    with pytest.raises(CheckFailure, match="floating"):
        require_ndarray(np.zeros(3, dtype=int), (3,))


def test_nan_is_never_close():
    with pytest.raises(CheckFailure, match="NaN"):
        assert_close(np.array([np.nan]), np.array([np.nan]), atol=1.0)


def test_stub_error_propagates():
    def stub(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        _double_exercise().run_visible(stub)


def _every_exercise():
    from autograder.checks import assignment_modules

    return [(module.__name__.rsplit(".", 1)[1], exercise)
            for module in assignment_modules() for exercise in module.EXERCISES.values()]


@pytest.mark.parametrize("exercise", [e for _, e in _every_exercise()],
                         ids=[f"{a}.{e.name}" for a, e in _every_exercise()])
def test_every_exercise_has_three_visible_cases_with_distinct_labels(exercise):
    """A student tests an exercise on at least three cases (one a docstring's edge case), and
    the pass line, which names them, tells them apart."""
    labels = [case.label for case in exercise.visible()]
    assert len(labels) >= 3, f"{exercise.name}: {len(labels)} visible cases, at least 3 expected"
    assert len(set(labels)) == len(labels), f"{exercise.name}: repeated labels {labels}"
    assert all(label.strip() for label in labels)
