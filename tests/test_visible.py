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
