"""A hang-free replacement for ``ipywidgets.interact`` used by every lecture.

``interact`` was measured to hang ``jupyter nbconvert --execute`` intermittently (about one run in
five with ipykernel 6.31). Drawing the figure into an ``ipywidgets.Output`` *before* the widget is
displayed did not hang in 66 runs, so every lecture builds its widgets with :func:`live_figure`.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt


def live_figure(draw: Callable[..., object], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Controls above a figure that is redrawn whenever a control changes.

    Args:
        draw: Draws one matplotlib figure; called as ``draw(**{name: control.value})``.
        **controls: One widget per keyword argument of ``draw`` (sliders, dropdowns, ...).
            Give sliders ``continuous_update=False`` so the figure is redrawn on release only.

    Returns:
        widgets.VBox: The controls and the figure, already drawn once; display it (for
        example as the last expression of a cell).
    """
    out = widgets.Output()

    def redraw(_change: object = None) -> None:
        with out:
            out.clear_output(wait=True)
            draw(**{name: control.value for name, control in controls.items()})
            plt.show()

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    row = widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
    return widgets.VBox([row, out])
