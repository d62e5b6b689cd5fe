"""Adversarial submissions: each one is graded in the same run as honest students.

Every case asserts the exact outcome: no unearned point, the right status per test, and the
honest students in the same run graded exactly as when alone. The assignment is a02
(4 tests: minibatches 3, sgd_step 2, momentum_step 4, SGD 6 points; 15 in all).
"""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import ROOT

from autograder import notebooks
from autograder.demo import STUB, Student, build_submission
from autograder.grade import grade
from autograder.settings import GradeSettings

pytestmark = pytest.mark.slow

ASSIGNMENT = "a02_batch_momentum"
NOTEBOOK = "batch_momentum.ipynb"
TESTS = ["test_minibatches", "test_sgd_step", "test_momentum_step", "test_SGD"]
POINTS = {"test_minibatches": 3, "test_sgd_step": 2, "test_momentum_step": 4, "test_SGD": 6}


def _cell(nb, grade_id):
    return next(c for c in nb.cells if notebooks.nbgrader_meta(c).get("grade_id") == grade_id)


def _prepend(grade_id, code):
    def edit(nb):
        cell = _cell(nb, grade_id)
        cell.source = code + "\n" + cell.source
    return edit


def _add_after(grade_id, code):
    def edit(nb):
        index = nb.cells.index(_cell(nb, grade_id))
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return edit


def _delete(grade_id):
    def edit(nb):
        nb.cells.remove(_cell(nb, grade_id))
    return edit


def _edit_test(grade_id):
    def edit(nb):
        _cell(nb, grade_id).source = "# tests are for other people\npass"
    return edit


def _duplicate_grade_id(nb):
    # A cell claiming the test's grade id, placed before it, that "passes" everything.
    index = nb.cells.index(_cell(nb, "test_sgd_step"))
    fake = nbformat.v4.new_code_cell("print('all tests passed')",
                                     metadata=dict(_cell(nb, "test_sgd_step").metadata))
    nb.cells.insert(index, fake)
    _cell(nb, "test_sgd_step").source = "pass"


EQ_CHEAT = '''
class Anything(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

def sgd_step(w, dw, lr):
    return np.zeros_like(w).view(Anything)
'''

TORCH_CHEAT = '''
def sgd_step(w, dw, lr):
    p = torch.nn.Parameter(torch.tensor(w))
    p.grad = torch.tensor(dw)
    opt = torch.optim.SGD([p], lr=lr)
    opt.step()
    return p.detach().numpy()
'''

INDIRECT_TORCH_CHEAT = '''
def sgd_step(w, dw, lr):
    return helper(w, dw, lr)
'''
HELPER = '''
def helper(w, dw, lr):
    import torch as t
    p = t.nn.Parameter(t.tensor(w))
    p.grad = t.tensor(dw)
    getattr(t, "op" + "tim").SGD([p], lr=lr).step()
    return p.detach().numpy()
'''

SIGINT_LOOP = '''
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    try:
        pass
    except BaseException:
        pass
'''

#: student id -> (the submission, expected {test: status}; unlisted tests must pass).
ADVERSARIES = {
    "allclose_patch": (Student("allclose_patch", default=STUB),
                       [_add_after("setup", "np.allclose = lambda *a, **k: True")],
                       dict.fromkeys(TESTS, "tampered")),
    "eq_override": (Student("eq_override", answers={"sgd_step": EQ_CHEAT}), [],
                    {"test_sgd_step": "tampered"}),
    "input_transformer": (
        Student("input_transformer", default=STUB),
        [_add_after("setup", "get_ipython().input_transformers_cleanup.append("
                             "lambda lines: [])")],
        dict.fromkeys(TESTS, "tampered")),
    "library_call": (Student("library_call", answers={"sgd_step": TORCH_CHEAT}), [],
                     {"test_sgd_step": "tampered"}),
    "indirect_library_call": (
        Student("indirect_library_call", answers={"sgd_step": INDIRECT_TORCH_CHEAT}),
        [_add_after("setup", HELPER)], {"test_sgd_step": "tampered"}),
    "oracle_call": (
        Student("oracle_call", default=STUB),
        [_prepend("sgd_step", "from autograder.checks import a02_batch_momentum as c")],
        {t: "tampered" if t != "test_minibatches" else "not attempted" for t in TESTS}),
    "sys_exit": (Student("sys_exit"), [_prepend("sgd_step", "import sys\nsys.exit(0)")],
                 {"test_sgd_step": "error"}),
    "os_exit": (Student("os_exit"), [_prepend("momentum_step", "import os\nos._exit(0)")],
                {"test_momentum_step": "crashed", "test_SGD": "crashed"}),
    "segfault": (Student("segfault"), [_prepend("SGD", "import faulthandler\n"
                                                       "faulthandler._sigsegv()")],
                 {"test_SGD": "crashed"}),
    "infinite_loop": (Student("infinite_loop"),
                      [_prepend("sgd_step", "while True:\n    pass")],
                      {"test_sgd_step": "timeout"}),
    "sigint_loop": (Student("sigint_loop"), [_prepend("momentum_step", SIGINT_LOOP)],
                    {"test_momentum_step": "timeout", "test_SGD": "timeout"}),
    "memory_bomb": (Student("memory_bomb"),
                    [_prepend("sgd_step", "hog = []\nwhile True:\n"
                                          "    hog.append(bytearray(2**26))")],
                    {"test_sgd_step": "out-of-memory"}),
    "fork_bomb": (Student("fork_bomb"),
                  [_prepend("sgd_step", "import os\nwhile True:\n    os.fork()")],
                  {"test_sgd_step": {"error", "timeout"},
                   "test_momentum_step": {"passed", "timeout"},
                   "test_SGD": {"passed", "timeout"}}),
    "huge_output": (Student("huge_output"),
                    [_prepend("sgd_step", "for _ in range(3000):\n    print('x' * 2**20)")],
                    # IPython keeps printed strings alive, so GBs of output end in the memory
                    # cap; what comes after in the same notebook may run out of memory too.
                    {"test_sgd_step": "out-of-memory",
                     "test_momentum_step": {"passed", "out-of-memory"},
                     "test_SGD": {"passed", "out-of-memory"}}),
    "background_process": (
        Student("background_process"),
        [_prepend("sgd_step", "import subprocess\n"
                              "subprocess.Popen(['sleep', '600'], start_new_session=True)")],
        {}),
    "network": (Student("network"),
                [_prepend("sgd_step", "import socket\n"
                                      "socket.create_connection(('1.1.1.1', 53), timeout=3)")],
                {"test_sgd_step": "error"}),
    "reads_source": (Student("reads_source"),
                     [_prepend("sgd_step", f"open({str(ROOT / 'source' / ASSIGNMENT / NOTEBOOK)!r})"
                                           ".read()")],
                     {"test_sgd_step": "error"}),
    "deleted_test_cell": (Student("deleted_test_cell"), [_delete("test_sgd_step")], {}),
    "edited_test_cell": (Student("edited_test_cell", answers={"sgd_step": STUB}),
                         [_edit_test("test_sgd_step")], {"test_sgd_step": "tampered"}),
    "duplicated_grade_id": (Student("duplicated_grade_id", answers={"sgd_step": STUB}),
                            [_duplicate_grade_id], {"test_sgd_step": "tampered"}),
}


def _write(folder, name, edits):
    path = folder / name / ASSIGNMENT / NOTEBOOK
    nb = notebooks.read(path)
    for edit in edits:
        edit(nb)
    notebooks.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("adversarial")
    submissions = base / "submissions"
    honest = [Student("honest_full"), Student("honest_stub", default=STUB),
              Student("honest_partial", answers={"momentum_step": STUB})]
    for student in honest:
        build_submission(ROOT, ASSIGNMENT, student, submissions)
    for name, (student, edits, _) in ADVERSARIES.items():
        build_submission(ROOT, ASSIGNMENT, student, submissions)
        _write(submissions, name, edits)
    for name, text in (("invalid_json", '{"cells": [oops'), ("empty_file", "")):
        folder = submissions / name / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / NOTEBOOK).write_text(text)
    settings = GradeSettings(jobs=2, cell_timeout=4, submission_timeout=120, memory_mb=2048,
                             plots=False)
    result = grade(ROOT, ASSIGNMENT, submissions, base / "out", settings=settings)
    return {s.student_id: s for s in result.students}, result


def _statuses(student):
    return {t.grade_id: t.status for t in student.tests}


def test_honest_students_unaffected(graded):
    students, _ = graded
    assert students["honest_full"].score == 15
    assert set(_statuses(students["honest_full"]).values()) == {"passed"}
    assert students["honest_stub"].score == 0
    assert set(_statuses(students["honest_stub"]).values()) == {"not attempted"}
    assert students["honest_partial"].score == 11
    assert _statuses(students["honest_partial"])["test_momentum_step"] == "not attempted"


@pytest.mark.parametrize("name", sorted(ADVERSARIES))
def test_adversary(graded, name):
    students, _ = graded
    student, _, expected = ADVERSARIES[name]
    statuses = _statuses(students[name])
    # A set: the outcome depends on timing (a fork bomb), any of these is right.
    want = {t: expected.get(t, "passed") for t in TESTS}
    for test, status in statuses.items():
        assert status in ({want[test]} if isinstance(want[test], str) else want[test]), \
            students[name].tests
    earned = sum(POINTS[t] for t, status in statuses.items() if status == "passed")
    assert students[name].score == earned  # no unearned point, nothing lost before a fault
    for test in students[name].tests:
        if test.status == "tampered":
            assert test.message  # the reason is in the report


@pytest.mark.parametrize("name", ["invalid_json", "empty_file"])
def test_unreadable(graded, name):
    students, _ = graded
    assert students[name].status == "unreadable"
    assert set(_statuses(students[name]).values()) == {"unreadable"}
    assert students[name].score == 0


def test_no_hidden_values_in_feedback(graded):
    _, result = graded
    for path in (result.out / "feedback").rglob("*.html"):
        text = path.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "run_hidden" not in text


def test_report_names_isolation(graded):
    _, result = graded
    report = json.loads((result.out / "report.json").read_text())
    assert {"network", "filesystem", "limits", "user"} <= set(report["isolation"])
