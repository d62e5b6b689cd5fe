"""Lectures build widgets only with ``wwit.widgets.live_figure``, which never uses the Output
widget's capture protocol (the cause of cells that never finish under nbclient)."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, ids, lecture_notebooks
from nbformat.v4 import new_code_cell, new_notebook

from autograder import notebooks
from autograder.engine.execute import KernelExecutor

#: What would capture outputs into an Output widget: ``interact`` and ``with <output>:``.
CAPTURE = re.compile(r"\binteract(ive)?\b|\binteract_manual\b|^\s*with\s+\w*out\w*\s*:|Output\(",
                     re.MULTILINE)


@pytest.mark.parametrize("path", lecture_notebooks(), ids=ids(lecture_notebooks()))
def test_lecture_builds_widgets_with_live_figure_only(path):
    code = "\n".join(c.source for c in notebooks.read(path).cells if c.cell_type == "code")
    assert not CAPTURE.findall(code), f"{path.name}: use wwit.widgets.live_figure"


def test_wwit_captures_nothing_outside_live_figure():
    for path in sorted((ROOT / "wwit").glob("*.py")):
        if path.name not in ("widgets.py", "__init__.py"):  # docstrings name what not to use
            assert not CAPTURE.findall(path.read_text(encoding="utf-8")), path.name


@pytest.mark.slow
def test_live_figure_draws_into_widget_state_without_capture(tmp_path):
    """The figure reaches the widget as state; the Output widget's msg_id is never set; a
    control's change redraws it; the cell itself shows no second copy of the figure."""
    nb = new_notebook(cells=[
        new_code_cell("import matplotlib.pyplot as plt\nfrom ipywidgets import FloatSlider\n"
                      "from wwit.widgets import live_figure\n\n"
                      "def draw(a):\n    fig, ax = plt.subplots(figsize=(2, 2))\n"
                      "    ax.plot([0, 1], [0, a])\n"),
        new_code_cell("w = live_figure(draw, a=FloatSlider(value=1.0, min=0, max=2))\nw"),
        new_code_cell("w.children[0].children[0].value = 1.5\nout = w.children[1]\n"
                      "print(len(out.outputs), sorted(out.outputs[0]['data']), repr(out.msg_id))"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    KernelExecutor(budget=60).execute(nb, tmp_path)
    widget_cell, probe = nb.cells[1], nb.cells[2]
    assert [o.output_type for o in widget_cell.outputs] == ["execute_result"]
    assert "image/png" not in widget_cell.outputs[0].data
    assert probe.outputs[0].text.strip() == "1 ['image/png', 'text/plain'] ''"
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [m["state"] for m in state.values() if m["model_name"] == "OutputModel"]
    assert outputs and all(not m.get("msg_id") for m in outputs)
    assert "image/png" in outputs[0]["outputs"][0]["data"]
