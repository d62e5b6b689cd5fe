"""Unit tests of the grading engine's pieces: wire format, static scan, notebook rebuild."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ROOT

from autograder import notebooks, rebuild, scan, wire
from autograder.checks import a02_batch_momentum


def _roundtrip(value):
    return wire.decode(wire.loads(wire.dumps(wire.encode(value))))


def test_wire_roundtrip_keeps_types_and_values():
    value = {"w": np.arange(6.0).reshape(2, 3), "n": np.float64(2.5), "flag": np.bool_(True),
             "t": torch.tensor([1.0, 2.0], dtype=torch.float64), "pair": (1, [2.0, None]),
             "nan": float("nan"), "s": "text", "zero_d": np.array(3.0)}
    got = _roundtrip(value)
    assert type(got["w"]) is np.ndarray and np.array_equal(got["w"], value["w"])
    assert type(got["n"]) is np.float64 and got["n"] == 2.5
    assert type(got["flag"]) is np.bool_
    assert isinstance(got["t"], torch.Tensor) and got["t"].dtype == torch.float64
    assert got["pair"] == (1, [2.0, None]) and np.isnan(got["nan"])
    assert got["zero_d"].shape == ()


def test_wire_refuses_subclasses_and_objects():
    class Sneaky(np.ndarray):
        def __eq__(self, other):
            return True

    got = _roundtrip(np.zeros(3).view(Sneaky))
    assert isinstance(got, wire.Unsupported) and "__eq__" in got.overrides
    assert isinstance(_roundtrip(np.array([object()])), wire.Unsupported)


@pytest.mark.parametrize("data", [b"{", b'{"$": "ndarray", "dtype": "O", "shape": [1], "b64": ""}',
                                  b'{"$": "ndarray", "dtype": "<f8", "shape": [2], "b64": "AAAA"}',
                                  b'{"$": "pickle"}', b"[" * 100000])
def test_wire_rejects_malformed(data):
    with pytest.raises(wire.WireError):
        wire.decode(wire.loads(data))


@pytest.mark.parametrize("code, flagged", [
    ("np.allclose = lambda *a, **k: True", True),
    ("setattr(np, 'allclose', None)", True),
    ("torch.Tensor.__eq__ = lambda s, o: True", True),
    ("get_ipython().input_transformers_cleanup.append(f)", True),
    ("eval('1')", True),
    ("import ctypes", True),
    ("from autograder.checks import a02_batch_momentum", True),
    ("%matplotlib inline\nx = np.zeros(3)\nx[0] = 1", False),
    ("def f(p):\n    p.grad = None\n    return np.sqrt(p)", False),
])
def test_scan(code, flagged):
    findings, _ = scan.scan(code, {"np": "numpy", "torch": "torch"})
    assert bool(findings) == flagged, findings


def test_forbidden_names_resolve_aliases():
    _, names = scan.scan("from torch import optim as o\ndef sgd_step(w, dw, lr):\n"
                         "    return o.SGD\n", {})
    assert scan.forbidden_uses(names, a02_batch_momentum.sgd_step)
    _, names = scan.scan("class SGD(torch.optim.Optimizer):\n    pass\n", {"torch": "torch"})
    assert not scan.forbidden_uses(names, a02_batch_momentum.SGD)


@pytest.mark.parametrize("path", sorted((ROOT / "source").glob("*/*.ipynb")),
                         ids=lambda p: p.stem)
def test_every_source_test_cell_has_a_plan_and_an_honest_release_rebuilds_clean(path):
    source = notebooks.read(path)
    released = notebooks.read(ROOT / "notebooks" / path.parent.name / path.name)
    for cell in notebooks.test_cells(source):
        assert rebuild.test_plan(cell).exercises
    result = rebuild.rebuild(source, released, released, {})
    assert result.tampered == {} and result.notes == []
    tests = [s.test.grade_id for s in result.steps if s.kind == "test"]
    assert tests == [notebooks.nbgrader_meta(c)["grade_id"] for c in notebooks.test_cells(source)]
