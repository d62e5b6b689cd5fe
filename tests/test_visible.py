"""What a student sees from a test cell (wwit.checks.visible), and the kit's case file format."""

from __future__ import annotations

import math
from collections import OrderedDict

import nbformat
import numpy as np
import pytest
import torch
from conftest import ROOT
from torch import nn

from autograder import notebooks
from autograder.engine import rebuild
from wwit.checks import data
from wwit.checks.core import Case, CheckFailure, assert_close, require_ndarray
from wwit.checks.notebook import execute
from wwit.checks.visible import NotAttempted, VisibleExercise, pass_line


def _compare(got, expected, case):
    require_ndarray(got, expected.shape)
    assert_close(got, expected, atol=1e-12)


def _double() -> VisibleExercise:
    cases = [Case("ones", (np.ones(3),)), Case("a ramp", (np.arange(4.0),))]
    return VisibleExercise("double", cases, lambda i: 2 * cases[i].args[0], _compare)


def test_all_passed_prints_one_line_naming_the_cases(capsys):
    _double().run_visible(lambda x: x * 2)
    assert capsys.readouterr().out == "double: 2 visible cases passed (ones; a ramp)\n"


def test_the_pass_line_cuts_long_labels_politely():
    labels = [f"case number {k} with a long readable label" for k in range(8)]
    line = pass_line("f", labels, width=120)
    assert line.startswith("f: 8 visible cases passed (case number 0 with")
    assert line.endswith(" more)") and len(line) <= 120 and "\n" not in line
    shown = line.count("case number")
    assert line.endswith(f"; and {8 - shown} more)") and 0 < shown < 8
    assert pass_line("f", ["x" * 300], width=120) == f"f: 1 visible case passed ({'x' * 300})"
    assert pass_line("f", ["a", "b"], kind="hidden") == "f: 2 hidden cases passed (a; b)"


def test_a_stub_is_one_line_not_attempted():
    def double(x):
        raise NotImplementedError()

    with pytest.raises(NotAttempted) as info:
        _double().run_visible(double)
    (line,) = info.value._render_traceback_()
    assert line.startswith("NotAttempted: double is not attempted yet")


def test_a_wrong_answer_is_one_message_with_the_case():
    with pytest.raises(CheckFailure) as info:
        _double().run_visible(lambda x: x * 3)
    (line,) = info.value._render_traceback_()
    assert line.startswith("CheckFailure: double, case ones: expected array")
    assert "got array" in line and "\n" not in line


def _helper(x):
    return x[10]


def test_an_exception_shows_only_the_students_frames():
    def double(x):
        return _helper(x)

    with pytest.raises(IndexError) as info:
        _double().run_visible(double)
    (text,) = info.value._render_traceback_()
    assert "in double" in text and "in _helper" in text and "IndexError" in text
    assert "raised by double on case ones" in text
    assert "wwit/checks" not in text and "autograder" not in text


def test_not_a_function():
    with pytest.raises(CheckFailure, match="must be a function"):
        _double().run_visible(None)


def test_a_comparison_that_cannot_handle_the_result_fails_cleanly():
    exercise = _double()
    exercise.compare = lambda got, expected, case: len(got)
    with pytest.raises(CheckFailure, match="could not compare the result"):
        exercise.run_visible(lambda x: 3)


@pytest.mark.slow
def test_in_a_kernel_each_failure_is_one_line(tmp_path):
    """Executed as JupyterLab (or nbgrader's Validate) would: the error outputs are short."""
    nb = notebooks.read(ROOT / "notebooks" / "a02_batch_momentum" / "batch_momentum.ipynb")
    answers = notebooks.answer_cells(nb)
    answers["sgd_step"].source = "def sgd_step(w, dw, lr):\n    return w - 2 * lr * dw\n"
    answers["momentum_step"].source = (
        "def momentum_step(w, dw, v, lr, momentum, nesterov=False):\n    return w[10]\n")
    execute(nb, tmp_path)
    errors = {notebooks.nbgrader_meta(c)["grade_id"]: o for c in notebooks.test_cells(nb)
              for o in c.outputs if o.output_type == "error"}
    assert errors["test_minibatches"].ename == "NotAttempted"
    assert len(errors["test_minibatches"].traceback) == 1
    assert errors["test_sgd_step"].ename == "CheckFailure"
    assert errors["test_sgd_step"].traceback[0].startswith(
        "CheckFailure: sgd_step, case 3 steps in 2-D: after step 1: expected")
    crash = "\n".join(errors["test_momentum_step"].traceback)
    assert errors["test_momentum_step"].ename == "IndexError"
    assert "in momentum_step" in crash and "checks" not in crash.replace("checks.", "")
    assert [r.status for r in notebooks.results(nb)] == [
        "not attempted", "failed", "error", "not attempted"]


# ---------------------------------------------------------------------------------------------
# The case file.
# ---------------------------------------------------------------------------------------------


def _factory(scale):
    def scaled(x):
        return scale * x
    return scaled


def _reference(x):
    return x


HARNESS = {"_factory": _factory, "_reference": _reference}


def _name_of(value):
    for name, obj in HARNESS.items():
        if obj is value:
            return "harness", name
    return None


def test_case_file_roundtrip_keeps_types():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    value = {
        "array": np.arange(6, dtype=np.float32).reshape(2, 3), "int64": np.int64(3),
        "tuple": (1, 2.5, "s", None, True), "nan": math.nan, "inf": -math.inf,
        "tensor": torch.ones(2, dtype=torch.float64, requires_grad=True),
        "param": nn.Parameter(torch.zeros(3)), "ordered": OrderedDict(b=1, a=2),
        "set": {"x", "y"}, "model": model, "loss": nn.CrossEntropyLoss(label_smoothing=0.1),
        "ref": _reference, "closure": _factory(3.0), "dtype": torch.float64,
    }
    text = data.dumps(data.encode(value, _name_of))
    back = data.decode(data.loads(text), {"harness": HARNESS})
    assert back["array"].dtype == np.float32 and np.array_equal(back["array"], value["array"])
    assert type(back["int64"]) is np.int64 and back["tuple"] == value["tuple"]
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert back["tensor"].requires_grad and back["tensor"].dtype == torch.float64
    assert type(back["param"]) is nn.Parameter
    assert type(back["ordered"]) is OrderedDict and list(back["ordered"]) == ["b", "a"]
    assert back["set"] == {"x", "y"} and back["dtype"] is torch.float64
    X = torch.randn(5, 2, dtype=torch.float64)
    assert torch.equal(back["model"](X), model(X))
    assert back["loss"].label_smoothing == 0.1
    assert back["ref"] is _reference and back["closure"](2.0) == 6.0


@pytest.mark.parametrize("value", [lambda x: x, object(), {1: "int key"},
                                   np.array(["text"])], ids=["lambda", "object", "key", "str"])
def test_case_file_refuses_what_is_not_data(value):
    with pytest.raises(data.DataError):
        data.encode(value, _name_of)


def test_case_file_never_imports_by_path():
    stored = {"$": "module", "module": "os", "name": "system", "state": {"$": "dict",
                                                                         "items": {}}}
    with pytest.raises(data.DataError):
        data.decode(stored, {"harness": HARNESS})


# ---------------------------------------------------------------------------------------------
# The test cell convention the grading engine parses.
# ---------------------------------------------------------------------------------------------


def _cell(source: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 2,
                                 "grade_id": "test_f"}
    return cell


def test_plan_reads_the_visible_and_the_hidden_import():
    plan = rebuild.test_plan(_cell(
        "from wwit.checks import a01_critical_points as checks\n"
        "checks.f.run_visible(f)\n### BEGIN HIDDEN TESTS\n"
        "from autograder.checks import a01_critical_points as hidden\n"
        "hidden.f.run_hidden(f)\n### END HIDDEN TESTS"))
    assert plan.module == "autograder.checks.a01_critical_points"
    assert plan.exercises == (("f", "f"),)


def test_plan_refuses_two_assignments():
    with pytest.raises(rebuild.SourceError):
        rebuild.test_plan(_cell(
            "from wwit.checks import a01_critical_points as checks\n"
            "checks.f.run_visible(f)\n"
            "from autograder.checks import a02_batch_momentum as hidden\n"
            "hidden.f.run_hidden(f)"))



def test_one_status_vocabulary():
    """The self-check, the grader, the plots and the feedback share one set of words."""
    from autograder.outputs import feedback, plots, results
    from wwit.checks import notebook
    from wwit.checks.status import GRADED, SELF_CHECK, Status

    labels = {str(s) for s in Status}
    assert set(plots.STATUS_COLORS) == labels == set(feedback.STATUS_EXPLANATIONS)
    assert set(results.TEST_STATUSES) == set(GRADED) and set(SELF_CHECK) <= set(Status)
    assert notebook.NOT_ATTEMPTED is results.NOT_ATTEMPTED is Status.NOT_ATTEMPTED
    assert {Status.PASSED: 1}["passed"] == 1  # a status and its label are the same key


# ---------------------------------------------------------------------------------------------
# A student's self-check, ``python -m wwit.checks NOTEBOOK``: the cells run in a fresh Python
# process (or a copy of a warm one), and the report reads exactly as from a kernel.
# ---------------------------------------------------------------------------------------------


def _test(source: str, grade_id: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": grade_id, "points": 1}})


def _notebook(folder, *cells, name="nb.ipynb"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(nbformat.v4.new_notebook(cells=list(cells)), str(path))
    return path


def _statuses(report):
    return {r.grade_id: (str(r.status), r.message) for r in report.results}


#: What a check of :func:`_kernel_like` reports.
KERNEL_LIKE = {
    "t_pass": ("passed", ""), "t_fail": ("failed", "AssertionError: x is not bye"),
    "t_todo": ("not attempted", "NotImplementedError"),
    "t_error": ("error", "ZeroDivisionError: division by zero"),
    "t_check_failure": ("failed", "CheckFailure: f, case ones: expected 2"),
    "t_stub": ("not attempted", "NotAttempted: f is not attempted yet"),
    "t_matplotlib": ("passed", ""), "t_input": ("passed", ""), "t_fresh": ("passed", ""),
}


def _kernel_like(folder):
    """A notebook that exercises what a kernel provides, and every status of a test cell."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "x.txt").write_text("hello\n")
    (folder / "helper_module.py").write_text("VALUE = 41\n")
    return _notebook(
        folder,
        nbformat.v4.new_code_cell(
            "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n"
            "display('a rich output')\nprint('printed')\nx = open('data/x.txt').read().strip()\n"
            "import helper_module\nimport os\nhere = os.getcwd()"),
        nbformat.v4.new_markdown_cell("Some prose."),
        _test("assert x == 'hello' and helper_module.VALUE == 41", "t_pass"),
        _test("assert x == 'bye', 'x is not bye'", "t_fail"),
        _test("raise NotImplementedError()", "t_todo"),
        _test("1 / 0", "t_error"),
        _test("from wwit.checks.core import CheckFailure\n"
              "raise CheckFailure('f, case ones: expected 2')", "t_check_failure"),
        _test("from wwit.checks.visible import NotAttempted\n"
              "raise NotAttempted('f is not attempted yet')", "t_stub"),
        _test("import matplotlib\nassert matplotlib.get_backend().lower() == 'agg'\n"
              "assert not plt.get_fignums()  # closed after their cell, as inline does",
              "t_matplotlib"),
        _test("try:\n    input('?')\nexcept EOFError:\n    pass", "t_input"),
        _test("import sys\nassert not hasattr(sys, 'wwit_seen'), 'state leaked from another "
              f"check'\nsys.wwit_seen = True\nassert here == {str(folder.resolve())!r}, here",
              "t_fresh"),
        nbformat.v4.new_code_cell("open('after_the_last_test.txt', 'w').write('ran')"),
    )


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*/*.ipynb"))
                         + sorted((ROOT / "source").glob("*/*.ipynb")),
                         ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}")
def test_the_quick_read_sees_what_nbformat_sees(path):
    from wwit.checks.notebook import read, read_quickly, test_cells, written_answers

    quick, full = read_quickly(path), read(path)
    assert [(c.cell_type, c.source, c.metadata) for c in quick.cells] == [
        (c.cell_type, c.source, c.metadata) for c in full.cells]
    assert written_answers(quick) == written_answers(full)
    assert [c.source for c in test_cells(quick)] == [c.source for c in test_cells(full)]


def test_the_quick_read_refuses_what_is_not_a_notebook(tmp_path):
    from wwit.checks.notebook import read_quickly

    for text in ("{not json", "[1, 2]", '{"cells": [{"source": "x"}], "nbformat": 4}'):
        (tmp_path / "bad.ipynb").write_text(text)
        with pytest.raises(ValueError, match="not a notebook"):
            read_quickly(tmp_path / "bad.ipynb")


def test_check_runs_the_cells_as_a_kernel_would(tmp_path):
    """Magics, display, relative paths, the notebook's folder on sys.path, Agg, no stdin; the
    same statuses and messages as a kernel; the file untouched; nothing after the last test."""
    from wwit.checks.notebook import check

    path = _kernel_like(tmp_path / "assignment")
    before = path.read_bytes()
    report = check(path, timeout=60, warm=False)
    found = _statuses(report)
    assert {k: v[0] for k, v in found.items()} == {k: v[0] for k, v in KERNEL_LIKE.items()}
    for grade_id, (_, message) in KERNEL_LIKE.items():
        assert found[grade_id][1].startswith(message), (grade_id, found[grade_id])
    assert path.read_bytes() == before
    assert not (path.parent / "after_the_last_test.txt").exists()
    assert report.skipped == 1 and report.seconds is not None


def test_a_slow_cell_times_out_and_the_next_cells_run(tmp_path):
    from wwit.checks.notebook import check

    path = _notebook(tmp_path, _test("import time\ntime.sleep(60)", "t_slow"),
                     _test("try:\n    import time\n    time.sleep(60)\nexcept Exception:\n"
                           "    pass", "t_slow_and_catches"),
                     _test("assert True", "t_next"))
    found = _statuses(check(path, timeout=1, warm=False))
    assert found["t_slow"] == ("error", "CellTimeoutError: the cell ran longer than 1 s")
    assert found["t_slow_and_catches"] == found["t_slow"]
    assert found["t_next"] == ("passed", "")


def test_a_cell_that_ignores_the_interrupt_is_stopped(tmp_path, monkeypatch):
    from wwit.checks import runner
    from wwit.checks.notebook import check

    monkeypatch.setattr(runner, "GRACE_S", 0.5)
    path = _notebook(tmp_path, _test("assert True", "t_before"),
                     _test("import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                           "time.sleep(60)", "t_stuck"), _test("assert True", "t_after"))
    found = _statuses(check(path, timeout=1, warm=False))
    assert found["t_before"] == ("passed", "")
    assert found["t_stuck"] == ("error", "CellTimeoutError: the cell ran longer than 1 s")
    assert found["t_after"][0] == "not run"
    assert "did not stop when interrupted" in found["t_after"][1]


@pytest.mark.parametrize("crash, reason", [("import os\nos._exit(3)", "it exited with code 3"),
                                           ("import os, signal\nos.kill(os.getpid(), "
                                            "signal.SIGKILL)", "it was killed by SIGKILL")])
def test_a_cell_that_ends_the_process_gives_a_clear_report(tmp_path, capsys, crash, reason):
    from wwit.checks.notebook import main

    path = _notebook(tmp_path, _test("assert True", "t_before"), _test(crash, "t_crash"),
                     _test("assert True", "t_after"))
    assert main([str(path), "--cold"]) == 1
    out = capsys.readouterr().out
    assert "PASS  t_before" in out
    assert (f"ERR   t_crash   0/1  error  ProcessStopped: the Python process running the "
            f"notebook stopped in this cell: {reason}") in out
    assert ("SKIP  t_after   0/1  not run  not run: the Python process running the notebook "
            f"stopped in the cell that starts `{crash.splitlines()[0]}` ({reason}") in out


def test_exit_codes(tmp_path, capsys):
    from wwit.checks.notebook import main

    good = _notebook(tmp_path, _test("assert True", "t"), name="good.ipynb")
    bad = _notebook(tmp_path, _test("assert False", "t"), name="bad.ipynb")
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert main([str(good), "--cold"]) == 0
    assert main([str(bad), "--cold"]) == 1
    assert main([str(tmp_path / "broken.ipynb"), "--cold"]) == 2
    assert main([str(tmp_path / "missing.ipynb"), "--cold"]) == 2
    assert "could not run" in capsys.readouterr().err


def test_the_self_check_ships_without_the_autograder():
    """The kit has no ``autograder`` package: the self-check imports only wwit and the
    standard library at module level."""
    import ast

    folder = ROOT / "wwit" / "checks"
    for name in ("notebook.py", "runner.py", "warm.py", "__main__.py"):
        tree = ast.parse((folder / name).read_text())
        modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names}
        modules |= {node.module for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module}
        assert not {m for m in modules if m.split(".")[0] == "autograder"}, name


@pytest.mark.slow
def test_a_warm_process_gives_the_same_report(tmp_path, monkeypatch):
    """The first check starts the warm process; the next ones are copies of it that report
    exactly what a fresh process does, and share nothing with each other."""
    import shutil
    import tempfile
    import time

    from wwit.checks import warm
    from wwit.checks.notebook import check

    if not warm.supported():
        pytest.skip("the warm process needs Linux")
    run = tempfile.mkdtemp(prefix="wwit")  # short: a socket's path has at most 107 bytes
    monkeypatch.setenv("XDG_RUNTIME_DIR", run)
    monkeypatch.setenv("WWIT_CHECK_IDLE_S", "120")
    path = _kernel_like(tmp_path / "assignment")
    try:
        cold = check(path, timeout=60, warm=True)
        deadline = time.monotonic() + 180
        while not list(warm.folder().glob("*.ready")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(warm.folder().glob("*.ready")), "the warm process did not load"
        served = warm.connect()
        assert served is not None
        served.stop()
        for _ in range(2):  # the second copy does not see what the first one did
            again = check(path, timeout=60, warm=True)
            assert _statuses(again) == _statuses(cold)
        assert not (path.parent / "after_the_last_test.txt").exists()
    finally:
        assert warm.stop_all() <= 1
        deadline = time.monotonic() + 30
        while list(warm.folder().glob("*.sock")) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert not list(warm.folder().glob("*.sock"))
    shutil.rmtree(run, ignore_errors=True)
