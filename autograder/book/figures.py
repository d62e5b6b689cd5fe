"""The figures of an executed lecture: alternative texts and static widgets.

:func:`install_alt_text` and :func:`quiet_progress_bars` run in the build's kernels (their
start-up file); the rest turns the saved widget state into static figures, after execution.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

from nbformat import NotebookNode

from autograder.book.lectures import BookError

#: The MIME type of a widget's view in a cell output, and of the widget state in the metadata.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

#: What the caption of a widget's static figure says.
STATIC_CAPTION = ("Static figure at the default settings{settings}; run the notebook in "
                  "JupyterLab to move the controls.")


#: TeX commands that only format: dropped from alternative texts.
_TEX_FORMATTING = re.compile(r"\\(?:(?:math[a-z]+|boldsymbol|operatorname|text\w*|left|right)"
                             r"(?![A-Za-z])|[,;:! ])")


def _plain(text: str) -> str:
    """Mathtext as a screen reader should read it: ``$\\hat{y}_t$`` -> ``hat y_t``."""
    text = _TEX_FORMATTING.sub(" ", text.replace("$", ""))
    text = re.sub(r"\\([A-Za-z]+)", r"\1 ", text).replace("{", "").replace("}", "")
    return " ".join(re.sub(r"\s+(?=[_^])", "", text).split())


def figure_alt(fig: Any) -> str:
    """Describe a matplotlib figure by its titles, or by its axis labels where an axes has none.

    ``"suptitle; title of axes 1; y label against x label"``, mathtext written out as words
    (``$\\lambda_{max}$`` -> ``lambda_max``). Empty when the figure has neither titles nor
    labels.
    """
    parts: list[str] = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        parts.append(suptitle.get_text())
    for ax in fig.axes:
        title = " ".join(t for t in (ax.get_title("left"), ax.get_title(), ax.get_title("right"))
                         if t)
        if title:
            parts.append(title)
        elif ax.get_xlabel() or ax.get_ylabel():
            parts.append(" against ".join(t for t in (ax.get_ylabel(), ax.get_xlabel()) if t))
    unique = list(dict.fromkeys(_plain(p) for p in parts))
    text = "; ".join(p for p in unique if p)
    return text if len(text) <= 400 else text[:397] + "..."


def install_alt_text() -> None:
    """Make IPython add ``figure_alt(fig)`` as the ``alt`` metadata of a figure's PNG.

    Patches :meth:`IPython.core.formatters.DisplayFormatter.format`, through which both the
    inline backend and ``ipywidgets.Output.append_display_data`` (so :func:`live_figure`) turn
    a figure into display data. Only the metadata changes. The book's kernels run this at
    start-up (an IPython start-up file).
    """
    from IPython.core.formatters import DisplayFormatter
    from matplotlib.figure import Figure

    original = DisplayFormatter.format

    def format(self, obj, include=None, exclude=None):  # noqa: A001 - the patched method's name
        data, metadata = original(self, obj, include, exclude)
        if isinstance(obj, Figure) and "image/png" in data:
            alt = figure_alt(obj)
            if alt:
                metadata = dict(metadata or {})
                metadata["image/png"] = {**metadata.get("image/png", {}), "alt": alt}
        return data, metadata

    DisplayFormatter.format = format


def quiet_progress_bars() -> None:
    """Make ``tqdm.auto``'s progress bars plain and disabled.

    In a kernel ``tqdm.auto`` is ``tqdm.notebook``, a widget, and that class ignores
    ``TQDM_DISABLE`` (it passes ``disable=False`` itself). The book's kernels run this at
    start-up, before a lecture imports ``from tqdm.auto import tqdm``.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tqdm.auto
        import tqdm.autonotebook
        from tqdm.std import tqdm as plain

    class quiet(plain):  # noqa: N801 - stands in for the class ``tqdm``
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    def trange(*args: Any, **kwargs: Any) -> quiet:
        return quiet(range(*args), **kwargs)

    for module in (tqdm.auto, tqdm.autonotebook):
        module.tqdm, module.trange = quiet, trange


def _model_id(reference: Any) -> str:
    """``IPY_MODEL_<id>`` (a child in a widget's state) -> ``<id>``."""
    return str(reference).removeprefix("IPY_MODEL_")


def widget_models(state: dict, model_id: str) -> Iterator[dict]:
    """The widget ``model_id`` and every widget below it, depth first, in display order.

    Args:
        state: The ``state`` of ``application/vnd.jupyter.widget-state+json``.
        model_id: Where to start.
    """
    seen: set[str] = set()
    stack = [model_id]
    while stack:
        current = stack.pop(0)
        if current in seen or current not in state:
            continue
        seen.add(current)
        model = state[current]
        yield model
        stack[0:0] = [_model_id(c) for c in model.get("state", {}).get("children", [])]


def widget_images(state: dict, model_id: str) -> list[dict]:
    """The image outputs (``display_data`` with ``image/png``) of the Output widgets under a widget.

    This is what the widget showed when the notebook was saved: for :func:`live_figure`, the
    figure at the default settings.
    """
    return [output for model in widget_models(state, model_id)
            if model.get("model_name") == "OutputModel"
            for output in model.get("state", {}).get("outputs", [])
            if "image/png" in output.get("data", {})]


def widget_settings(state: dict, model_id: str) -> list[tuple[str, str]]:
    """``(description, value)`` of the controls under a widget, in display order."""
    settings = []
    for model in widget_models(state, model_id):
        values = model.get("state", {})
        description = values.get("description")
        if not description:
            continue
        if "_options_labels" in values:
            labels = values["_options_labels"]
            index = values.get("index")
            chosen = index if isinstance(index, list) else [index]  # SelectMultiple: a list
            value = ", ".join(labels[i] for i in chosen if isinstance(i, int) and i < len(labels))
            value = f"[{value}]" if isinstance(index, list) else value
        elif "value" in values:
            value = values["value"]
            value = f"{value:g}" if isinstance(value, float) else str(value)
        else:
            continue
        settings.append((str(description), str(value)))
    return settings


def static_widget_html(images: list[dict], settings: list[tuple[str, str]],
                       alt: Callable[[dict], str]) -> str:
    """A ``<figure>`` with the widget's images and the caption that says they are static."""
    shown = ", ".join(f"{d} = {v}" for d, v in settings)
    caption = STATIC_CAPTION.format(settings=f" ({shown})" if shown else "")
    imgs = "\n".join(
        f'<img src="data:image/png;base64,{"".join(o["data"]["image/png"]).strip()}" '
        f'alt="{html.escape(alt(o), quote=True)}">' for o in images)
    return (f'<figure class="book-static-widget">\n{imgs}\n'
            f"<figcaption>{html.escape(caption)}</figcaption>\n</figure>")


def figure_numbering() -> Callable[[dict], str]:
    """A function that gives each image output, called in page order, its alternative text.

    ``Figure <n>: <what>``, where what is the description :func:`install_alt_text` left in the
    output's metadata, or "output of the code cell above".
    """
    counter = itertools.count(1)

    def alt(output: dict) -> str:
        described = output.get("metadata", {}).get("image/png", {}).get("alt", "")
        return f"Figure {next(counter)}: {described or 'output of the code cell above'}"

    return alt


def prepare(nb: NotebookNode, name: str) -> int:
    """Freeze the widgets of an executed lecture and give every figure its alternative text.

    Figures are numbered in page order, widget figures included.

    Args:
        nb: The executed lecture; changed in place.
        name: The lecture's stem, for the error message.

    Returns:
        int: The number of widgets frozen.
    """
    from nbformat.v4 import new_output

    alt = figure_numbering()
    frozen = 0
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is not None:
                model_id = view.get("model_id", "")
                images = widget_images(state, model_id)
                if not images:
                    raise BookError(f"{name}: the widget of cell {index} shows no figure in "
                                    f"its saved state (model {model_id})")
                figure = static_widget_html(images, widget_settings(state, model_id), alt)
                outputs.append(new_output("display_data", data={"text/html": figure}))
                frozen += 1
                continue
            images = [m for m in ("image/png", "image/jpeg") if m in output.get("data", {})]
            if images:
                text, metadata = alt(output), output.setdefault("metadata", {})
                for mime in images:
                    metadata[mime] = {**metadata.get(mime, {}), "alt": text}
            outputs.append(output)
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return frozen
