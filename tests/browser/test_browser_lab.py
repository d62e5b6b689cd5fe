"""JupyterLab from ``make lab``: a lecture runs top to bottom, its widget redraws, and saving
it leaves the course's notebook clean on disk (``make lab``'s pre-save hook)."""

from __future__ import annotations

import json
import time

from lab_pages import errors, open_notebook, run_all

#: The quickest lecture with a :func:`wwit.widgets.live_figure` slider (about 10 s to run).
LECTURE = "lectures/05_batch_normalization.ipynb"


def test_lecture_runs_and_slider_redraws_figure(page, course_lab, shot) -> None:
    panel = open_notebook(page, course_lab, LECTURE)
    shot(page, "lab", "lecture_opened")

    cells = run_all(page)
    assert errors(cells) == [], f"error outputs in {LECTURE}: {errors(cells)}"
    not_run = [cell["source"] for cell in cells if not cell["count"]]
    assert not_run == [], f"cells of {LECTURE} that did not run: {not_run}"
    assert panel.locator(".jp-InputArea-prompt", has_text="[*]").count() == 0

    widget = panel.locator(".jp-OutputArea-output").filter(
        has=page.locator(".widget-slider")).last
    widget.scroll_into_view_if_needed()
    figure = widget.locator(".widget-output img").first
    figure.wait_for()
    before = figure.get_attribute("src")
    slider = widget.locator(".widget-slider").first
    value = slider.locator(".widget-readout").inner_text()
    shot(page, "lab", "ran_all_widget_drawn")

    # The keyboard moves a noUiSlider handle by one step, as a person's arrow key does.
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + 60
    while figure.get_attribute("src") == before and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert slider.locator(".widget-readout").inner_text() != value, "the slider did not move"
    assert figure.get_attribute("src") != before, "the figure was not redrawn"
    widget.scroll_into_view_if_needed()
    shot(page, "lab", "slider_moved_figure_redrawn")

    # Saving (as autosave does) keeps the outputs in the page, not in the course's notebook.
    saved = course_lab.root / LECTURE
    before_save = saved.stat().st_mtime_ns
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")  # Ctrl+S
    deadline = time.monotonic() + 30
    while saved.stat().st_mtime_ns == before_save and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert saved.stat().st_mtime_ns != before_save, "the notebook was not saved"
    on_disk = [c for c in json.loads(saved.read_text())["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in on_disk)
    assert panel.locator(".jp-OutputArea-output img").count() > 0  # the page keeps them
    shot(page, "lab", "saved_clean_on_disk")
