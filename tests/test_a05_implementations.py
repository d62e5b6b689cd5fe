"""The checks of ``a05_batchnorm/batchnorm.ipynb`` against a library of implementations.

Every correct alternative in ``tests/implementations/a05_batchnorm.py`` must pass the visible
and the hidden cases; every common mistake must be rejected by the hidden cases with a
:class:`CheckFailure`; every clause of each docstring is quoted, covered and broken (the
docstring contract). The backward exercises also have tests of their design: they are checked on
the cache of the forward function found next to them. Fast: no notebooks, no kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
from implementation_suite import define_tests

from autograder.checks.a05_batchnorm import EXERCISES
from autograder.checks.core import CheckFailure

try:
    from tests.implementations.a05_batchnorm import CORRECT, WRONG
except ModuleNotFoundError:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from implementations.a05_batchnorm import CORRECT, WRONG

#: For some mistakes, a phrase the failure message must contain: the checks reject them for the
#: intended reason, not by accident.
EXPECTED_MESSAGE: dict[str, str] = {
    "wrong_standardize_in_place": "modified its input array in place",
    "wrong_standardize_float32": "to be float64",
    "wrong_bn_running_in_place": "modified its input array in place",
    "wrong_bn_cache_in_eval": "the cache must be None",
    "wrong_bn_keepdims": "to have shape (",
    "wrong_bn_backward_in_place": "modified dout in place",
    "wrong_bn_backward_keepdims": "to have shape (",
    "wrong_ln_backward_in_place": "modified dout in place",
    "wrong_ln_centers_in_place": "modified its input array in place",
    "WrongBatchNorm1dGammaBeta": "has no parameter 'weight'",
    "WrongBatchNorm1dPlainAttributes": "expected the buffers",
    "WrongBatchNorm1dNoBatchCount": "num_batches_tracked",
    "WrongBatchNorm1dRunningVarZeros": "running_var right after BatchNorm1d(...)",
}

define_tests(globals(), EXERCISES, CORRECT, WRONG, expected_message=EXPECTED_MESSAGE,
             assignment="a05_batchnorm")

BACKWARD = {"batchnorm_backward": "batchnorm_forward",
            "batchnorm2d_backward": "batchnorm2d_forward",
            "layernorm_backward": "layernorm_forward"}


def _namespace(**functions) -> dict:
    """A notebook namespace: the backward function's globals hold these functions."""
    return dict(functions, np=np)


def _defined_in(namespace: dict, name: str, source: str):
    exec(compile(source, f"<cell {name}>", "exec"), namespace)  # a notebook cell, in a test
    return namespace[name]


_STUB = "def {name}(*args, **kwargs):\n    raise NotImplementedError()\n"
_WRITTEN = "def {name}(dout, cache):\n    return cache['x_hat'] * dout, None, None\n"


@pytest.mark.parametrize(("backward", "forward"), BACKWARD.items())
def test_backward_without_its_forward_says_so(backward, forward):
    impl = _defined_in(_namespace(), backward, _WRITTEN.format(name=backward))
    with pytest.raises(CheckFailure, match=f"no {forward} is defined"):
        EXERCISES[backward].check(impl, quiet=True)


@pytest.mark.parametrize(("backward", "forward"), BACKWARD.items())
def test_backward_with_an_unattempted_forward_fails_and_says_so(backward, forward):
    namespace = _namespace()
    _defined_in(namespace, forward, _STUB.format(name=forward))
    impl = _defined_in(namespace, backward, _WRITTEN.format(name=backward))
    with pytest.raises(CheckFailure, match=f"{forward} is not attempted yet"):
        EXERCISES[backward].check(impl, quiet=True)


@pytest.mark.parametrize(("backward", "forward"), BACKWARD.items())
def test_untouched_backward_is_not_attempted_whatever_its_forward(backward, forward):
    correct_forward = next(f for f in CORRECT[forward] if f.__name__ == forward)
    for namespace in (_namespace(), _namespace(**{forward: correct_forward})):
        if forward not in namespace:
            _defined_in(namespace, forward, _STUB.format(name=forward))
        impl = _defined_in(namespace, backward, _STUB.format(name=backward))
        with pytest.raises(NotImplementedError):
            EXERCISES[backward].check(impl, quiet=True)


@pytest.mark.parametrize(("backward", "forward"), BACKWARD.items())
def test_backward_blames_a_wrong_forward(backward, forward):
    """A wrong forward's output is reported first: its cache cannot be trusted."""
    correct_forward = next(f for f in CORRECT[forward] if f.__name__ == forward)
    correct_backward = next(f for f in CORRECT[backward] if f.__name__ == backward)

    def shifted_forward(*args, **kwargs):
        result = correct_forward(*args, **kwargs)
        return (result[0] + 1.0, *result[1:])

    namespace = _namespace(**{forward: shifted_forward, "correct": correct_backward})
    impl = _defined_in(namespace, backward,
                       f"def {backward}(dout, cache):\n    return correct(dout, cache)\n")
    with pytest.raises(CheckFailure, match=f"fix {forward} first"):
        EXERCISES[backward].check(impl, quiet=True)


def test_module_must_not_subclass_the_library():
    from torch import nn

    class Delegating(nn.BatchNorm1d):
        """Uses the library."""

    with pytest.raises(CheckFailure, match="must not subclass torch.nn.BatchNorm1d"):
        EXERCISES["BatchNorm1d"].check(Delegating, quiet=True)
    with pytest.raises(CheckFailure, match="subclasses torch.nn.Module"):
        EXERCISES["BatchNorm1d"].check(lambda n, **kw: nn.BatchNorm1d(n, **kw), quiet=True)


@pytest.mark.parametrize("name", [n for n in EXERCISES if n not in BACKWARD])
def test_malformed_results_fail(name):
    """A result that is not the documented tuple is a CheckFailure, not a crash."""
    if name == "BatchNorm1d":
        return

    def returns_out_only(x, *args, **kwargs):
        return x.copy()

    with pytest.raises(CheckFailure, match="must return a tuple"):
        EXERCISES[name].check(returns_out_only, quiet=True)


def test_forbidden_names_match_the_library():
    module = EXERCISES["BatchNorm1d"]
    for name in ("torch.nn.BatchNorm1d", "torch.nn.modules.batchnorm",
                 "torch.nn.modules.batchnorm._BatchNorm.forward",
                 "torch.nn.functional.batch_norm", "torch.batch_norm"):
        assert module.uses_forbidden(name), name
    for name in ("torch.nn.Module", "torch.nn.Parameter", "torch.nn.functional",
                 "torch.sqrt", "torch.var", "torch.nn.modules.module"):
        assert not module.uses_forbidden(name), name
    for exercise in ("standardize", "batchnorm_forward", "layernorm_backward"):
        assert EXERCISES[exercise].uses_forbidden("torch.nn.functional.layer_norm")
        assert not EXERCISES[exercise].uses_forbidden("numpy.mean")
