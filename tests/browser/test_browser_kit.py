"""A student's notebook from the kit: a stub is "not attempted", Validate agrees, an answer
passes."""

from __future__ import annotations

from pathlib import Path

import nbformat
from lab_pages import code_cells, errors, open_notebook, run_all

ROOT = Path(__file__).resolve().parents[2]

NOTEBOOK = "notebooks/a01_critical_points/critical_points.ipynb"
EXERCISE = "numerical_gradient"


def solution(exercise: str) -> str:
    """The instructor's answer cell of ``exercise`` without nbgrader's solution markers."""
    notebook = nbformat.read(ROOT / "source" / "a01_critical_points" / "critical_points.ipynb",
                             as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == exercise:
            return "\n".join(line for line in cell.source.splitlines()
                             if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    raise LookupError(exercise)


def test_kit_stub_not_attempted_validate_then_answer_passes(page, kit_lab, shot) -> None:
    panel = open_notebook(page, kit_lab, NOTEBOOK)
    answer = panel.locator(".jp-CodeCell").filter(has_text=f"def {EXERCISE}(")
    test = panel.locator(".jp-CodeCell").filter(has_text=f"# test_{EXERCISE}:")

    # Run All stops at the first failing cell: the test cell of the first stub.
    cells = run_all(page)
    failures = errors(cells)
    assert len(failures) == 1, failures
    assert f"# test_{EXERCISE}:" in failures[0], failures
    assert f"NotAttempted: {EXERCISE} is not attempted yet" in failures[0], failures
    output = test.locator(".jp-OutputArea")
    assert "not attempted" in output.inner_text()
    test.scroll_into_view_if_needed()
    shot(page, "kit", "stub_not_attempted")

    # nbgrader's Validate (notebook toolbar) runs the whole notebook and reports the same.
    panel.locator(".jp-Toolbar").get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Validation Results")
    dialog.wait_for(timeout=180_000)
    report = dialog.inner_text()
    assert f"NotAttempted: {EXERCISE} is not attempted yet" in report, report
    shot(page, "kit", "validate_not_attempted")
    dialog.get_by_role("button", name="Ok").click()
    dialog.wait_for(state="detached")

    # Paste the answer over the stub, run it and its test cell.
    answer.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.evaluate("text => navigator.clipboard.writeText(text)", solution(EXERCISE))
    page.keyboard.press("Control+V")
    page.keyboard.press("Shift+Enter")  # the answer cell; the test cell is selected next
    page.keyboard.press("Shift+Enter")  # the test cell
    output.get_by_text(f"{EXERCISE}: ").wait_for(timeout=60_000)
    assert "visible cases passed" in output.inner_text(), output.inner_text()
    test_cell = next(cell for cell in code_cells(page)
                     if cell["source"].startswith(f"# test_{EXERCISE}:"))
    assert errors([test_cell]) == []
    test.scroll_into_view_if_needed()
    shot(page, "kit", "answer_pasted_test_passes")
