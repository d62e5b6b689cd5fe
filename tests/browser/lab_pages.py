"""What the browser tests do in JupyterLab, as a person would: open, use the menus, run cells.

The test servers run with ``--LabApp.expose_app_in_browser=True``, which makes the application
``window.jupyterapp`` in the page: the tests read the open notebook's model through it (the
kernel's state, each cell's execution count and outputs) to tell an error output (a traceback)
from a plain stderr stream, which JupyterLab renders alike.
"""

from __future__ import annotations

import secrets
from typing import Any

#: The extra ``jupyter lab`` option of every test server (see the module docstring).
EXPOSE_APP = "--LabApp.expose_app_in_browser=True"

#: True when the current tab's kernel is connected and idle.
KERNEL_IDLE = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const session = widget && widget.sessionContext && widget.sessionContext.session;
  const kernel = session && session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""

#: The code cells of the current notebook: execution count and outputs (type, name, ename...).
CODE_CELLS = """() => {
  const model = window.jupyterapp.shell.currentWidget.content.model;
  return [...model.cells].filter(cell => cell.type === 'code').map(cell => ({
    count: cell.executionCount,
    source: cell.sharedModel.getSource().slice(0, 80),
    outputs: cell.outputs.toJSON().map(out => ({type: out.output_type, name: out.name || null,
                                               ename: out.ename || null,
                                               evalue: out.evalue || null})),
  }));
}"""

#: True when Run All has finished: the kernel is idle and every code cell ran, or one failed
#: (JupyterLab then stops).
RUN_FINISHED = """() => {
  const widget = window.jupyterapp.shell.currentWidget;
  const kernel = widget.sessionContext.session && widget.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const cells = [...widget.content.model.cells].filter(cell => cell.type === 'code');
  return cells.every(cell => cell.executionCount)
    || cells.some(cell => cell.outputs.toJSON().some(out => out.output_type === 'error'));
}"""


def notebook_panel(page):
    """The notebook in the visible tab."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def open_lab(page, lab, path: str = "lab") -> None:
    """Open ``path`` (``lab`` or ``lab/tree/<file>``) with a fresh workspace (no old tabs)."""
    page.goto(lab.url(f"{path}?reset"))
    page.locator(".lm-MenuBar-item").first.wait_for()


def open_notebook(page, lab, path: str, timeout: float = 120_000):
    """Open the notebook ``path`` and wait for its kernel to be ready; return its panel."""
    open_lab(page, lab, f"lab/tree/{path}")
    page.wait_for_function(KERNEL_IDLE, timeout=timeout)
    return notebook_panel(page)


def menu(page, top: str, item: str) -> None:
    """Click ``item`` in the menu bar's ``top`` menu (``menu(page, "Run", "Run All Cells")``)."""
    page.locator(".lm-MenuBar-item").get_by_text(top, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def code_cells(page) -> list[dict[str, Any]]:
    """The current notebook's code cells, from its model (see :data:`CODE_CELLS`)."""
    return page.evaluate(CODE_CELLS)


def run_all(page, timeout: float = 180_000) -> list[dict[str, Any]]:
    """Run → Run All Cells, wait until it has finished, return :func:`code_cells`."""
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(RUN_FINISHED, timeout=timeout, polling=250)
    return code_cells(page)


def errors(cells: list[dict[str, Any]]) -> list[str]:
    """The error outputs (tracebacks) of ``cells``: ``"<cell source>: <ename>: <evalue>"``."""
    return [f"{cell['source']!r}: {out['ename']}: {out['evalue']}"
            for cell in cells for out in cell["outputs"] if out["type"] == "error"]


# ---------------------------------------------------------------------------------------------
# nbgrader's Assignment List (Nbgrader > Assignment List): one list per state, ``released``,
# ``fetched`` (shown as "Downloaded assignments") and ``submitted``, one row per assignment.
# ---------------------------------------------------------------------------------------------


def open_assignment_list(page, lab) -> None:
    """Open Nbgrader > Assignment List and wait until its lists have loaded.

    JupyterLab opens in a new workspace of its own rather than with ``?reset``: the list's
    links (unfold an assignment) change the URL's ``#``, and JupyterLab then routes the URL
    again, which with ``?reset`` empties the workspace and closes the list.
    """
    page.goto(lab.url(f"lab/workspaces/assignments-{secrets.token_hex(4)}"))
    page.locator(".lm-MenuBar-item").first.wait_for()
    menu(page, "Nbgrader", "Assignment List")
    page.locator("#released_assignments_list").wait_for()
    page.wait_for_function("""() => ['released', 'fetched', 'submitted'].every(name => {
      const loading = document.getElementById(name + '_assignments_list_loading');
      return loading && loading.offsetParent === null;
    })""")


def assignment_row(page, state: str, assignment: str):
    """The row of ``assignment`` in the list ``state`` (released, fetched or submitted)."""
    return (page.locator(f"#{state}_assignments_list > .list_item")
            .filter(has=page.locator(".item_name").get_by_text(assignment, exact=True)))


def submission_times(row) -> list[str]:
    """The timestamps of the submissions listed under a ``submitted`` row, oldest first."""
    names = row.locator(".nested_list_item .item_name").all_inner_texts()
    return [name.split(" (")[0].strip() for name in names if name.strip()]


# ---------------------------------------------------------------------------------------------
# Formgrader (Nbgrader > Formgrader): its pages run in an iframe of the JupyterLab tab.
# ---------------------------------------------------------------------------------------------


def formgrader_frame(page):
    """The Formgrader tab's iframe (after ``menu(page, "Nbgrader", "Formgrader")``)."""
    return page.frame_locator("iframe").first


def submitted_notebook_row(frame, submission: str = "Submission #1") -> dict[str, Any]:
    """The row of ``submission`` on Manual Grading's page of one notebook's submissions.

    Returns its columns: ``score`` (Overall Score, ``"8 / 17"``), ``code``, ``written`` (the
    same form) and ``needs_manual_grade`` (a tick in Needs Manual Grade?).
    """
    row = frame.locator("#main-table tr").filter(
        has=frame.get_by_role("link", name=submission, exact=True))
    row.wait_for()
    return {"score": row.locator("td.score").inner_text().strip(),
            "code": row.locator("td.code-score").inner_text().strip(),
            "written": row.locator("td.written-score").inner_text().strip(),
            "needs_manual_grade": row.locator("td.needs-manual-grade .glyphicon-ok").count() > 0}
