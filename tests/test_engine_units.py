"""Unit tests of the grading engine's pieces: wire format, static scan, notebook rebuild."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from conftest import ROOT

from autograder import notebooks
from autograder.checks import a02_batch_momentum
from autograder.engine import rebuild, scan, wire


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


# ---------------------------------------------------------------------------------------------
# verdict: every fault path of a test record, decided without running anything.
# ---------------------------------------------------------------------------------------------


def _sgd_plan():
    from autograder.engine.rebuild import TestPlan

    return TestPlan("test_sgd_step", 2.0, "autograder.checks.a02_batch_momentum",
                    (("sgd_step", "sgd_step"),))


def _sgd_record(impl):
    from autograder.engine import wire

    exercise = a02_batch_momentum.sgd_step
    cases = []
    for hidden in (False, True):
        for index, case in enumerate(exercise.cases(hidden=hidden)):
            cases.append({"hidden": hidden, "index": index,
                          "value": wire.encode(exercise.run_case(impl, case))})
    return {"exercises": [{"exercise": "sgd_step", "cases": cases}]}


def _judge(record):
    from autograder.checks.core import HIDDEN_SEED
    from autograder.engine import messages
    from autograder.engine.verdict import Judge

    done = None if record is None else messages.from_data(
        json.loads(wire.dumps({"event": "done", "index": 0, **record})))
    return Judge(HIDDEN_SEED).judge_test(_sgd_plan(), done)


def test_verdict_passes_a_right_answer_and_keeps_hidden_values_secret():
    assert _judge(_sgd_record(lambda w, dw, lr: w - lr * dw)).status == "passed"
    record = _sgd_record(lambda w, dw, lr: w - 2 * lr * dw)  # visible cases fail first
    assert _judge(record).status == "failed" and "expected" in _judge(record).message
    record = _sgd_record(lambda w, dw, lr: w - lr * dw)
    last = record["exercises"][0]["cases"][-1]
    wrong = [{"w": step["w"] + 1.0} for step in wire.decode(last["value"])]
    record["exercises"][0]["cases"][-1] = {**last, "value": wire.encode(wrong)}
    verdict = _judge(record)
    assert verdict.status == "failed" and "hidden case" in verdict.message
    assert "expected" not in verdict.message and "got" not in verdict.message


@pytest.mark.parametrize("record, status, phrase", [
    (None, "crashed", "did not finish"),
    ({"error": {"ename": "NotImplementedError", "message": "", "fault": None}},
     "not attempted", "not attempted"),
    ({"error": {"ename": "KeyboardInterrupt", "message": "", "fault": "timeout"}},
     "timeout", "time limit"),
    ({"error": {"ename": "MemoryError", "message": "", "fault": "out-of-memory"}},
     "out-of-memory", "memory"),
    ({"error": {"ename": "ZeroDivisionError", "message": "division by zero", "fault": None}},
     "error", "ZeroDivisionError: division by zero"),
    ({"exercises": [{"exercise": "sgd_step", "missing": "sgd_step"}]}, "error", "NameError"),
    ({"exercises": [{"exercise": "sgd_step", "cases": [
        {"hidden": False, "index": 0, "tamper": ["replaced numpy.allclose"]}]}]},
     "tampered", "numpy.allclose"),
    ({"exercises": [{"exercise": "sgd_step", "cases": [{"hidden": True, "index": 5}]}]},
     "crashed", "malformed"),
    ({"exercises": None}, "crashed", "incomplete"),
    ({"exercises": [{"exercise": "momentum_step", "cases": []}]}, "crashed", "malformed"),
    ({"exercises": [{"exercise": "sgd_step", "cases": [
        {"hidden": False, "index": 0, "value": {"$": "ndarray", "dtype": "<f8", "shape": [9],
                                                "b64": "AAAA"}}]}]}, "crashed", "unreadable"),
])
def test_verdict_fault_paths(record, status, phrase):
    verdict = _judge(record)
    assert verdict.status == status and phrase in verdict.message, verdict


@pytest.mark.parametrize("data", [
    {"event": "done", "index": 0, "exercises": "not a list"},
    {"event": "done", "index": -1},
    {"event": "done", "index": 0, "error": {"ename": "X", "fault": "meltdown"}},
    {"event": "done", "index": 0, "exercises": [{"exercise": "f", "cases": [{"index": 0}]}]},
    {"event": "start", "isolation": ["not", "a", "record"]},
    {"event": "step", "index": "1"},
    {"event": "end", "extra": 1},
    {"event": "launch"},
    ["not a message"],
])
def test_messages_are_decoded_strictly(data):
    from autograder.engine import messages

    with pytest.raises(messages.MessageError):
        messages.from_data(data)


def test_messages_roundtrip():
    from autograder.engine import messages as m

    sent = [m.Started({"network": "off"}), m.StepStarted(3), m.StepStarted(),
            m.StepDone(2, "out", m.ErrorReport("ValueError", "bad", None), ("patched",),
                       (m.ExerciseResult("f", cases=(m.CaseResult(False, 0, 1.5),)),
                        m.ExerciseResult("g", missing="g"))),
            m.Fatal("no"), m.Ended()]
    for message in sent:
        assert m.from_data(json.loads(wire.dumps(m.to_data(message)))) == message


# ---------------------------------------------------------------------------------------------
# pool: finding and cleaning a sandbox user's processes.
# ---------------------------------------------------------------------------------------------


def test_processes_of_a_user_and_cleaning_an_empty_one():
    from autograder.engine.pool import _processes_of, kill_user

    mine = _processes_of(os.getuid())
    assert (os.getpid(), os.getppid(), False) in mine
    assert _processes_of(2**31 - 7) == []
    assert kill_user(2**31 - 7, seconds=0.1) is True
    assert kill_user(os.getuid()) is True  # never the grader's own user


def test_starting_the_fork_server_leaves_the_callers_environment_alone(monkeypatch):
    """The server's Agg backend and single BLAS thread must not leak into kernels the caller
    starts later (a lecture executed after grading kept Agg and lost its inline figures)."""
    import os

    from autograder.engine.pool import start_server

    for name in ("MPLBACKEND", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "IPYTHONDIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    start_server()
    assert os.environ.get("OMP_NUM_THREADS") == "3"
    assert not {"MPLBACKEND", "MKL_NUM_THREADS", "IPYTHONDIR"} & set(os.environ)


def test_a_sandbox_gets_the_submission_files_but_never_what_a_link_points_to(tmp_path):
    from pathlib import Path

    from autograder.engine.pool import NotebookJob, Pool, submission_files

    folder = tmp_path / "sub"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "x.csv").write_text("1,2\n")
    (folder / "critical_points.ipynb").write_text("{}")
    (tmp_path / "secret").write_text("only the grader may read this")
    (folder / "link").symlink_to(tmp_path / "secret")
    (folder / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    assert submission_files(folder) == {"data/x.csv": b"1,2\n"}
    pool = Pool({}, 1, 61000, 0, scratch=tmp_path / "scratch")
    try:
        _, spec = pool._prepare(NotebookJob(("alice", "nb"), [], folder), 0)
        copied = sorted(p.relative_to(spec["scratch"]).as_posix()
                        for p in Path(spec["scratch"]).rglob("*"))
        assert copied == ["data", "data/x.csv"]
    finally:
        pool.close()
