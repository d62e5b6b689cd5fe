"""A hang-free replacement for ``ipywidgets.interact`` used by every lecture.

Why not ``interact``, or an ``Output`` widget used as a context manager (``with out: ...``)?
Both capture the figure through the Output widget's *capture protocol*: the kernel tags the
figure's ``display_data`` message with the widget's ``msg_id`` and leaves it to the front end to
copy the output into the widget. Without a browser (``jupyter nbconvert --execute``, nbclient,
``make book``, the tests), nbclient plays that front end (``nbclient.output_widget``): for every
captured output it sends the widget's new state back to the kernel with a plain, un-awaited
send **on the shell socket, from the task that reads IOPub, while another task awaits the
cell's ``execute_reply`` on that same socket**. Sharing a ``zmq.asyncio`` socket between an
awaited poll and a concurrent send is the pattern in which pyzmq can miss the edge-triggered
wake-up (pyzmq #1203); upstream reports of widget cells that never finish all capture outputs
this way (nbclient #312, nbconvert #1921 and #2029, otter-grader #755). Caught here by a
watchdog on lecture 1 (1 of 31 nbclient runs with the old helper): the kernel idle in its event
loop, nbclient's only pending task awaiting the widget cell's reply on the shell socket, until
the cell timeout (or forever without one, as ``nbconvert --execute`` has by default).

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
