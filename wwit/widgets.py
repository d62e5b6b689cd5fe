"""A hang-free replacement for ``ipywidgets.interact`` used by every lecture.

Why not ``interact``, or an ``Output`` widget used as a context manager (``with out: ...``)?
Both capture the figure through the Output widget's *capture protocol*: the kernel tags the
figure's ``display_data`` message with the widget's ``msg_id`` and leaves it to the front end to
copy the output into the widget. Without a browser (``jupyter nbconvert --execute``, nbclient,
``make book``, the tests), nbclient plays that front end: for every captured output it sends a
``comm_msg`` back to the kernel **on the shell socket, from the task that reads IOPub, while
another task is waiting on that same socket for the cell's ``execute_reply``**. Now and then the
reply's wake-up is lost in this exchange: the reply sits in the socket, the kernel is idle, and
nbclient waits for the cell timeout, or forever without one (measured on lecture 1: the widget
cell hung in 2 of 22 nbclient runs; the watchdog found the kernel idle, nbclient's only pending
task polling the shell socket and the reply already readable on it).

:func:`live_figure` never uses the capture protocol: it renders each figure to its display data
itself (:meth:`ipywidgets.Output.append_display_data`) and sets the widget's ``outputs``, which
reach any front end as ordinary widget state on IOPub. nbclient then has nothing to send back,
and JupyterLab shows the same figure, redrawn whenever a control changes.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt


def live_figure(draw: Callable[..., object], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Controls above a figure that is redrawn whenever a control changes.

    Args:
        draw: Draws one or more matplotlib figures; called as
            ``draw(**{name: control.value})``. The figures it opens are shown in the widget and
            then closed.
        **controls: One widget per keyword argument of ``draw`` (sliders, dropdowns, ...).
            Give sliders ``continuous_update=False`` so the figure is redrawn on release only.

    Returns:
        widgets.VBox: The controls and the figure, already drawn once; display it (for
        example as the last expression of a cell).
    """
    out = widgets.Output()

    def redraw(_change: object = None) -> None:
        before = set(plt.get_fignums())
        draw(**{name: control.value for name, control in controls.items()})
        new = [plt.figure(num) for num in plt.get_fignums() if num not in before]
        out.outputs = ()
        for fig in new:
            out.append_display_data(fig)
            plt.close(fig)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    row = widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
    return widgets.VBox([row, out])
