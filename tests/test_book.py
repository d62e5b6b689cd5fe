"""``make book``: an offline HTML book of the lectures (:mod:`autograder.book`).

The fast tests check the pure parts (widget state to static figures, links, alternative texts,
request detection, the assignment pages); the slow ones build a two-lecture book once (the
notation page and lecture 5, which has a widget) and check what a reader's browser would get.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from conftest import ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder import book, notebooks
from autograder.book import contents, figures, lectures, pages
from autograder.course import assignments, source_notebooks, topic_lectures

#: What must never reach a reader: hidden tests, the grader's checks, solutions.
SECRETS = ("BEGIN HIDDEN", "END HIDDEN", "run_hidden", "autograder.checks", "HIDDEN_SEED",
           "BEGIN SOLUTION", "END SOLUTION")

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really a png").decode()
LECTURES = ("00_notation", "05_batch_normalization")


# --- Widgets --------------------------------------------------------------------------------------


def _model(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}


def _widget_state() -> dict:
    """The state nbclient stores for ``live_figure(draw, layer=IntSlider, norm=Dropdown)``."""
    image = {"output_type": "display_data", "metadata": {"image/png": {"alt": "scale by depth"}},
             "data": {"text/plain": "<Figure>", "image/png": PNG}}
    return {
        "slider": _model("IntSliderModel", description="layer", value=10, min=1, max=20),
        "menu": _model("DropdownModel", description="norm", index=1,
                       _options_labels=["none", "batchnorm"]),
        "race": _model("SelectMultipleModel", description="optimizers", index=[0, 2],
                       _options_labels=["SGD", "Adam", "RMSProp"]),
        "row": _model("HBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_menu",
                                             "IPY_MODEL_race"]),
        "out": _model("OutputModel", outputs=[image]),
        "box": _model("VBoxModel", children=["IPY_MODEL_row", "IPY_MODEL_out"]),
        "lonely": _model("VBoxModel", children=["IPY_MODEL_slider"]),
    }


def _view(model_id: str) -> dict:
    return new_output("display_data", data={
        "text/plain": "VBox(...)",
        figures.WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id}})


def _notebook_with_widget(model_id: str = "box") -> nbformat.NotebookNode:
    plain = new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
    nb = new_notebook(cells=[new_markdown_cell("# Lecture 9 — Widgets"),
                             new_code_cell("plot()", outputs=[plain]),
                             new_code_cell("live_figure(...)", outputs=[_view(model_id)])])
    nb.metadata["widgets"] = {figures.WIDGET_STATE: {"version_major": 2, "version_minor": 0,
                                                  "state": _widget_state()}}
    return nb


def test_widget_images_walks_the_children_to_the_output_widget():
    state = _widget_state()
    images = figures.widget_images(state, "box")
    assert [o["data"]["image/png"] for o in images] == [PNG]
    assert figures.widget_images(state, "lonely") == []
    assert figures.widget_images(state, "missing") == []


def test_widget_settings_reads_the_default_value_of_each_control():
    assert figures.widget_settings(_widget_state(), "box") == [
        ("layer", "10"), ("norm", "batchnorm"), ("optimizers", "[SGD, RMSProp]")]


def test_prepare_replaces_each_widget_by_its_static_figure_with_a_caption():
    nb = _notebook_with_widget()
    assert figures.prepare(nb, "09_widgets") == 1
    assert "widgets" not in nb.metadata
    [plain], [frozen] = nb.cells[1].outputs, nb.cells[2].outputs
    assert plain.metadata["image/png"]["alt"] == (
        "Figure 1: output of the code cell above")
    figure = BeautifulSoup(frozen.data["text/html"], "html.parser")
    img = figure.find("img")
    assert img["src"] == f"data:image/png;base64,{PNG}"
    assert img["alt"] == "Figure 2: scale by depth"
    caption = figure.find("figcaption").get_text()
    assert ("Static figure at the default settings (layer = 10, norm = batchnorm, "
            "optimizers = [SGD, RMSProp])") in caption
    assert "JupyterLab" in caption
    assert figures.WIDGET_VIEW not in frozen.data


def test_a_widget_without_a_figure_fails_the_build_by_name():
    with pytest.raises(book.BookError, match="09_widgets: the widget of cell 2 shows no figure"):
        figures.prepare(_notebook_with_widget("lonely"), "09_widgets")


# --- Alternative texts ----------------------------------------------------------------------------


def test_figure_alt_uses_titles_then_axis_labels_and_writes_math_as_words():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right, bare) = plt.subplots(1, 3)
    fig.suptitle("Three views")
    left.set_title(r"loss at $\lambda_{max}$, $\mathrm{lr}_t = \hat{v}_t$")
    right.set_xlabel("step $t$")
    right.set_ylabel("loss")
    bare.set_ylabel("accuracy")
    assert figures.figure_alt(fig) == ("Three views; loss at lambda_max, lr_t = hat v_t; "
                                    "loss against step t; accuracy")
    plt.close(fig)
    empty = plt.figure()
    empty.add_subplot()
    assert figures.figure_alt(empty) == ""
    plt.close(empty)


def test_install_alt_text_puts_the_titles_into_the_png_metadata(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.formatters import DisplayFormatter

    def render(self, obj, include=None, exclude=None):
        return {"image/png": PNG, "text/plain": repr(obj)}, {"image/png": {"width": 4}}

    monkeypatch.setattr(DisplayFormatter, "format", render)  # restored after the test
    figures.install_alt_text()
    fig, ax = plt.subplots()
    ax.set_title("a title")
    data, metadata = DisplayFormatter.format(None, fig)
    plt.close(fig)
    assert data["image/png"] == PNG
    assert metadata == {"image/png": {"width": 4, "alt": "a title"}}
    assert DisplayFormatter.format(None, "text")[1] == {"image/png": {"width": 4}}


def test_quiet_progress_bars_replaces_the_notebook_widget(monkeypatch, capsys):
    import tqdm.auto
    import tqdm.autonotebook

    for module in (tqdm.auto, tqdm.autonotebook):  # restored after the test
        monkeypatch.setattr(module, "tqdm", module.tqdm)
        monkeypatch.setattr(module, "trange", module.trange)
    figures.quiet_progress_bars()
    from tqdm.auto import tqdm, trange

    assert list(tqdm([1, 2, 3], desc="x")) == [1, 2, 3] and list(trange(2)) == [0, 1]
    assert tqdm([1]).disable and "ipywidgets" not in type(tqdm([1])).__module__
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


# --- Links and requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(("href", "expected"), [
    ("01_critical_points.ipynb", "01_critical_points.html"),
    ("00_notation.ipynb#Optimizers", "00_notation.html#Optimizers"),
    ("./03b_schedules_second_order.ipynb", "03b_schedules_second_order.html"),
    ("../notebooks/a03_adaptive_lr/adaptive_methods.ipynb", "a03_adaptive_lr.html"),
    ("../source/a03_adaptive_lr/adaptive_methods.ipynb", "a03_adaptive_lr.html"),
    ("../notebooks/a09_unknown/x.ipynb", "../notebooks/a09_unknown/x.ipynb"),
    ("elsewhere/01_critical_points.ipynb", "elsewhere/01_critical_points.ipynb"),
    ("https://example.org/01_critical_points.ipynb", "https://example.org/01_critical_points.ipynb"),
    ("https://arxiv.org/abs/1502.03167", "https://arxiv.org/abs/1502.03167"),
    ("#Setup", "#Setup"),
])
def test_book_href(href, expected):
    lectures = {"00_notation", "01_critical_points", "03b_schedules_second_order"}
    assert pages.book_href(href, lectures, {"a03_adaptive_lr"}) == expected


def test_external_requests_finds_loads_but_not_links():
    page = """<html><head>
    <script src="https://cdn.example/require.js"></script>
    <link rel="stylesheet" href="//fonts.example/css">
    <style>body { background: url('https://img.example/x.png'); }</style>
    <script>import("https://esm.example/mermaid.mjs")</script>
    <script type="application/vnd.jupyter.widget-state+json">{"u": "https://x"}</script>
    </head><body><a href="https://arxiv.org/abs/1502.03167">paper</a>
    <img src="data:image/png;base64,AAAA" alt="x"><script src="_static/mathjax/x.js"></script>
    </body></html>"""
    found = pages.external_requests(page)
    assert len(found) == 4, found
    assert not pages.external_requests('<a href="https://example.org">a link</a>')


# --- Lectures, assignments, index -----------------------------------------------------------------


def test_discover_finds_every_lecture_in_book_order():
    found = lectures.discover(ROOT)
    stems = [lec.stem for lec in found]
    assert stems == sorted(p.stem for p in (ROOT / "lectures").glob("*.ipynb"))
    assert stems[0] == "00_notation"
    assert found[0].assignment is None
    for name in assignments(ROOT):
        for path in topic_lectures(ROOT, name):
            assert next(lec for lec in found if lec.path == path).assignment == name
    assert all(lec.title and not lec.title.startswith("#") for lec in found)


def test_discover_a_subset_and_refuse_an_unknown_lecture():
    assert [lec.stem for lec in lectures.discover(ROOT, ["05_batch_normalization.ipynb",
                                                     "00_notation"])] == list(LECTURES)
    with pytest.raises(book.BookError, match="unknown lecture.*99_nothing"):
        lectures.discover(ROOT, ["99_nothing"])


@pytest.mark.parametrize("assignment", assignments(ROOT))
def test_assignment_page_names_every_graded_part_and_no_secret(assignment):
    markdown = contents.assignment_markdown(ROOT, assignment, lectures.discover(ROOT))
    parts = contents.exercises(ROOT, assignment)
    sources = [notebooks.read(p) for p in source_notebooks(ROOT, assignment)]
    assert sum(p for _, p, _ in parts) == sum(
        notebooks.max_points(nb) + sum(p for _, p in notebooks.written_answers(nb))
        for nb in sources) > 0
    for name, points, _ in parts:
        assert f"`{name.removeprefix('written answer ')}` | {points:g} |" in markdown
    assert f"Total: {sum(p for _, p, _ in parts):g} points." in markdown
    assert "make kit" in markdown and "make lab" in markdown
    for secret in SECRETS:
        assert secret not in markdown


def test_course_map_links_only_what_the_book_holds():
    table = contents.course_map(ROOT, {"05_batch_normalization"}, {"a05_batchnorm"})
    assert "[05_batch_normalization](05_batch_normalization.html)" in table
    assert "[a05_batchnorm](a05_batchnorm.html)" in table
    assert "`01_critical_points`" in table and "01_critical_points.html" not in table
    assert len([line for line in table.splitlines() if re.search(r"`a\d\d_|\[a\d\d_", line)]) \
        == len(assignments(ROOT))


def test_course_map_needs_the_readme_table(tmp_path):
    (tmp_path / "README.md").write_text("# A course\n\n## Course map\n\nTo do.\n")
    with pytest.raises(book.BookError, match="no table under a '## Course map' heading"):
        contents.course_map(tmp_path, set(), set())


def test_build_leaves_a_folder_that_is_not_a_book_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(book.BookError, match="is not a book"):
        book.build(ROOT, ["00_notation"], tmp_path, log=lambda line: None)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_mathjax_is_installed():
    assert book.mathjax_file().name == "tex-svg-full.js"
    assert book.mathjax_version().startswith("3.")


# --- A built book (executes two lectures) ---------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("book") / "book"
    lines = []
    result = book.build(ROOT, LECTURES, out, log=lines.append)
    assert [line.split(":")[0] for line in lines] == list(LECTURES)
    return result


def _pages(built) -> dict[str, BeautifulSoup]:
    return {p.name: BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser")
            for p in sorted(built.out.glob("*.html"))}


@pytest.mark.slow
def test_the_book_has_its_pages_and_mathjax(built):
    names = {p.name for p in built.out.glob("*.html")}
    assert names == {"index.html", "00_notation.html", "05_batch_normalization.html",
                     "a05_batchnorm.html"}
    assert (built.out / pages.MATHJAX_HREF).stat().st_size > 1_000_000
    for name, soup in _pages(built).items():
        sources = [s.get("src") for s in soup.find_all("script") if s.get("src")]
        assert sources == [pages.MATHJAX_HREF], name


@pytest.mark.slow
def test_no_page_makes_a_request_off_the_machine(built):
    for name, soup in _pages(built).items():
        page = str(soup)
        assert pages.external_requests(page) == [], name
        for tag, attribute in (("script", "src"), ("link", "href"), ("img", "src"),
                               ("iframe", "src")):
            for element in soup.find_all(tag):
                value = element.get(attribute, "")
                assert not re.match(r"(https?:)?//|/|file:", value), (name, tag, value)
        text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", page)
        for word in ("require.js", "requirejs", "unpkg", "jsdelivr", "cdnjs", "embed-amd"):
            assert word not in text, (name, word)
        for link in soup.find_all("a", href=True):  # relative, or a plain web link
            assert not link["href"].startswith(("/", "file:")), (name, link["href"])


@pytest.mark.slow
def test_widgets_are_static_figures_with_a_caption(built):
    soup = _pages(built)["05_batch_normalization.html"]
    static = soup.find_all("figure", class_="book-static-widget")
    source = nbformat.read(ROOT / "lectures" / "05_batch_normalization.ipynb", 4)
    widgets = sum("live_figure(" in c.source for c in source.cells if c.cell_type == "code")
    assert widgets >= 1 and len(static) == widgets
    for figure in static:
        first = next(child for child in figure.children if getattr(child, "name", None))
        assert first.name == "img" and first["src"].startswith("data:image/png;base64,")
        assert "Static figure at the default settings" in figure.figcaption.get_text()
    page = str(soup)
    assert figures.WIDGET_VIEW not in page and figures.WIDGET_STATE not in page


@pytest.mark.slow
def test_every_image_has_a_meaningful_alt(built):
    for name, soup in _pages(built).items():
        for img in soup.find_all("img"):
            assert img.get("alt", "").strip(), name
            assert "No description" not in img["alt"]
    lecture = _pages(built)["05_batch_normalization.html"]
    alts = [img["alt"] for img in lecture.find_all("img")]
    assert [alt.split(":")[0] for alt in alts] == [f"Figure {n}" for n in
                                                     range(1, len(alts) + 1)]
    assert not [alt for alt in alts if "\\" in alt or "$" in alt], "TeX left in alt texts"
    assert any(not alt.endswith("output of the code cell above") for alt in alts), alts


@pytest.mark.slow
def test_index_lists_the_lectures_and_the_course_map(built):
    index = _pages(built)["index.html"]
    main = index.find("main")
    hrefs = [a["href"] for a in main.find_all("a", href=True)]
    for stem in LECTURES:
        assert f"{stem}.html" in hrefs
    assert main.find("h2", id="Course-map")
    table = main.find("table")
    assert table is not None and len(table.find_all("tr")) == len(assignments(ROOT)) + 1
    assert "a05_batchnorm.html" in hrefs


@pytest.mark.slow
def test_previous_next_and_section_links_resolve(built):
    pages = _pages(built)
    for name, soup in pages.items():
        for link in soup.select("nav a[href]"):
            target, _, fragment = link["href"].partition("#")
            assert (built.out / (target or name)).is_file(), (name, link["href"])
            if fragment:
                assert (pages[target or name].find(id=fragment)), (name, link["href"])
    notation, lecture = pages["00_notation.html"], pages["05_batch_normalization.html"]
    assert notation.find("a", rel="prev")["href"] == "index.html"
    assert notation.find("a", rel="next")["href"] == "05_batch_normalization.html"
    assert lecture.find("a", rel="prev")["href"] == "00_notation.html"
    assert lecture.select("ul.book-sections a")


@pytest.mark.slow
def test_a_lecture_links_to_its_assignment_page(built):
    lecture = _pages(built)["05_batch_normalization.html"]
    assert {a["href"] for a in lecture.select("a.book-assignment")} == {"a05_batchnorm.html"}
    assert not _pages(built)["00_notation.html"].select("a.book-assignment")
    page = _pages(built)["a05_batchnorm.html"].get_text()
    for name, _, _ in contents.exercises(ROOT, "a05_batchnorm"):
        assert name.removeprefix("written answer ") in page
    assert "make kit" in page


@pytest.mark.slow
def test_no_hidden_test_or_solution_in_any_file(built):
    for path in built.out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for secret in SECRETS:
                assert secret not in text, (path.name, secret)


@pytest.mark.slow
def test_a_broken_lecture_fails_the_build_by_name(tmp_path, capsys):
    root = tmp_path / "course"
    (root / "source").mkdir(parents=True)
    (root / "lectures").mkdir()
    nb = new_notebook(cells=[new_markdown_cell("# Broken"),
                             new_code_cell("raise ValueError('on purpose')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, root / "lectures" / "99_broken.ipynb")
    with pytest.raises(book.BookError, match=r"lecture 99_broken failed to execute: cell 1: "
                                             r"ValueError: on purpose"):
        book.build(root, (), tmp_path / "out", log=lambda line: None)
    assert book.main(root, ["99_broken"], tmp_path / "out2") == 1
    assert "99_broken" in capsys.readouterr().err


def test_cli_has_the_book_verb():
    from autograder.cli import build_parser

    args = build_parser().parse_args(["book", "05_batch_normalization", "--out", "x"])
    assert args.lecture == ["05_batch_normalization"] and args.out == Path("x")
    assert build_parser().parse_args(["book"]).out == Path("build/book")
