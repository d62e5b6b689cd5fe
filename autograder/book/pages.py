"""Rendering a page of the book: nbconvert with the book's template, its links, and a guard
against anything that would load from the network."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.book.lectures import BookError, Lecture

#: The course's title, on every page.
BOOK_TITLE = "Why won't it train?"

#: The MathJax 3 component the book ships: TeX input, SVG output (no web fonts, which browsers
#: refuse to load from ``file://`` pages), every TeX extension included (nothing loaded later).
MATHJAX_FILE = "tex-svg-full.js"
#: Where the pages find it, relative to the book's folder.
MATHJAX_HREF = f"_static/mathjax/{MATHJAX_FILE}"

#: MathJax's configuration: the delimiters the lectures use, and no context menu (it could
#: switch on accessibility extensions that MathJax would then load: without it, the single
#: file is all a page ever loads).
MATHJAX_CONFIG = {
    "tex": {"inlineMath": [["$", "$"], ["\\(", "\\)"]],
            "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
            "processEscapes": True, "processEnvironments": True},
    "options": {"ignoreHtmlClass": "tex2jax_ignore", "processHtmlClass": "tex2jax_process",
                "enableMenu": False},
    "svg": {"fontCache": "global"},
}

_LINK_IPYNB = re.compile(r"^(?P<path>[^#?:]*?)(?P<stem>[\w.-]+)\.ipynb(?P<frag>#.*)?$")
_ASSIGNMENT_DIR = re.compile(r"(?:^|/)(?:notebooks|source)/(?P<name>a\d\d_\w+)/$")


def book_href(href: str, lectures: set[str], assignment_pages: set[str]) -> str:
    """Where a link of a lecture points in the book.

    ``01_critical_points.ipynb#Saddles`` -> ``01_critical_points.html#Saddles`` (a lecture);
    ``../notebooks/a03_adaptive_lr/adaptive_methods.ipynb`` -> ``a03_adaptive_lr.html`` (the
    book has no assignment notebook, only a page that says what it asks). Any other link (a
    web address, an anchor, another file) is returned unchanged.

    Args:
        href: The link as written in the notebook.
        lectures: Stems of the lectures (pages ``<stem>.html``).
        assignment_pages: Assignments that have a page ``<assignment>.html``.
    """
    found = _LINK_IPYNB.match(href)
    if not found or "://" in href:
        return href
    if found.group("stem") in lectures and not found.group("path").strip("./"):
        return f"{found.group('stem')}.html{found.group('frag') or ''}"
    folder = _ASSIGNMENT_DIR.search(found.group("path"))
    if folder and folder.group("name") in assignment_pages:
        return f"{folder.group('name')}.html"
    return href


#: Tags and attributes through which a page would load something.
_REQUESTING = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src",
               "video": "src", "audio": "src", "embed": "src", "object": "data", "use": "href",
               "image": "href"}
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_REMOTE = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])\s*(?:[a-z][a-z0-9+.-]*:)?//",
                         re.IGNORECASE)


def external_requests(page: str) -> list[str]:
    """What on an HTML page would be fetched from another machine (should be nothing).

    Looks at the ``src``/``href`` of tags that load something (``script``, ``link``, ``img``,
    ``iframe``, ...), at ``url(...)`` and ``@import`` in styles, and at script text that names a
    web address to load (``import("https://...")``). A plain ``<a href="https://...">`` is a
    link, not a request.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    found = []
    for tag, attribute in _REQUESTING.items():
        for element in soup.find_all(tag):
            value = element.get(attribute) or element.get(f"xlink:{attribute}") or ""
            if _REMOTE.match(value):
                found.append(f"<{tag} {attribute}={value!r}>")
    for style in soup.find_all("style"):
        found += [f"<style> {m.group(0)}" for m in _CSS_REMOTE.finditer(style.get_text())]
    for element in soup.find_all(style=True):
        found += [f"style= {m.group(0)}" for m in _CSS_REMOTE.finditer(element["style"])]
    for script in soup.find_all("script"):
        if (script.get("type") or "text/javascript") in ("text/javascript", "module"):
            found += [f"<script> {m.group(0)}" for m in
                      re.finditer(r"https?://[^\s'\"<>)]+", script.get_text())]
    return found


_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<link rel="icon" href="data:,">
<script>window.MathJax = {{ resources.book.mathjax_config }};</script>
<script defer src="{{ resources.book.mathjax_src }}"></script>
{%- endblock html_head_js_mathjax -%}
{% block extra_css %}<style type="text/css">{{ resources.book.css }}</style>{% endblock %}
{%- block body_header -%}
<body class="jp-Notebook book" data-jp-theme-light="true"
 data-jp-theme-name="JupyterLab Light">
<nav class="book-sidebar" aria-label="Contents">
<p class="book-title"><a href="index.html">{{ resources.book.title | escape_html }}</a></p>
<p class="book-heading">Lectures</p>
<ol class="book-lectures">
{%- for page in resources.book.lectures %}
<li><a href="{{ page.href }}"{% if page.current %} aria-current="page"{% endif %}>
{{- page.title | escape_html }}</a>
{%- if page.current %}<ul class="book-sections"></ul>{% endif %}</li>
{%- endfor %}
</ol>
{%- if resources.book.assignments %}
<p class="book-heading">Assignments</p>
<ul class="book-assignments">
{%- for page in resources.book.assignments %}
<li><a href="{{ page.href }}"{% if page.current %} aria-current="page"{% endif %}>
{{- page.title | escape_html }}</a></li>
{%- endfor %}
</ul>
{%- endif %}
</nav>
<main class="book-main">
{{ self.book_nav() }}
{%- endblock body_header -%}
{%- block book_nav -%}
{%- set book = resources.book -%}
<nav class="book-nav" aria-label="Previous and next">
{%- if book.prev %}
<a class="book-prev" rel="prev" href="{{ book.prev.href }}">
{{- '&larr; ' }}{{ book.prev.title | escape_html }}</a>
{%- else %}<span></span>{% endif %}
{%- if book.assignment %}
<a class="book-assignment" href="{{ book.assignment.href }}">
{{- 'Assignment: ' }}{{ book.assignment.title | escape_html }}</a>
{%- endif %}
{%- if book.next %}
<a class="book-next" rel="next" href="{{ book.next.href }}">
{{- book.next.title | escape_html }}{{ ' &rarr;' }}</a>
{%- else %}<span></span>{% endif %}
</nav>
{%- endblock book_nav -%}
{% block body_footer %}
{{ self.book_nav() }}
<footer class="book-footer">{{ resources.book.footer | escape_html }}</footer>
</main>
</body>
{% endblock body_footer %}
{%- macro image(mime, output, extra_class) -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:{{ mime }};base64,{{ output.data[mime] | escape_html }}"
 alt="{{ ((output | get_metadata('alt', mime)) or 'Figure') | escape_html }}"
{%- set width = output | get_metadata('width', mime) -%}
{%- if width is not none %} width="{{ width | escape_html }}"{% endif %}
{%- set height = output | get_metadata('height', mime) -%}
{%- if height is not none %} height="{{ height | escape_html }}"{% endif %}>
</div>
{%- endmacro -%}
{% block data_png scoped %}{{ image('image/png', output, extra_class) }}{% endblock data_png %}
{% block data_jpg scoped %}{{ image('image/jpeg', output, extra_class) }}{% endblock data_jpg %}
"""


_CSS = """
body.book { margin: 0; padding: 0; }
.book-sidebar { position: fixed; top: 0; bottom: 0; left: 0; width: 17rem; overflow-y: auto;
  box-sizing: border-box; padding: 1rem 1rem 2rem; border-right: 1px solid #ddd;
  background: #f7f7f7; font-family: var(--jp-ui-font-family); font-size: 0.85rem; }
.book-sidebar a { color: #1a4f8b; text-decoration: none; }
.book-sidebar a:hover { text-decoration: underline; }
.book-sidebar a[aria-current="page"] { font-weight: bold; color: #000; }
.book-sidebar ol, .book-sidebar ul { padding-left: 1.1rem; margin: 0.3rem 0; }
.book-sidebar li { margin: 0.25rem 0; }
.book-sections { font-size: 0.8rem; list-style: none; padding-left: 0.6rem !important; }
.book-title { font-size: 1.1rem; font-weight: bold; margin: 0 0 1rem; }
.book-heading { font-weight: bold; text-transform: uppercase; font-size: 0.75rem;
  color: #555; margin: 1rem 0 0.2rem; }
.book-main { margin-left: 17rem; padding: 1rem 2rem 3rem; max-width: 62rem; }
.book-nav { display: flex; justify-content: space-between; gap: 1rem; align-items: center;
  font-family: var(--jp-ui-font-family); margin: 0.5rem 0 1.5rem; padding: 0.5rem 0;
  border-bottom: 1px solid #ddd; }
.book-main > .book-nav:not(:first-child) { border-bottom: 0; border-top: 1px solid #ddd;
  margin-top: 2rem; }
.book-nav a { color: #1a4f8b; }
.book-assignment { font-weight: bold; }
.book-footer { color: #777; font-size: 0.8rem; font-family: var(--jp-ui-font-family); }
figure.book-static-widget { margin: 0; }
figure.book-static-widget img { max-width: 100%; display: block; }
figure.book-static-widget figcaption { font-style: italic; color: #555; margin: 0.3rem 0; }
@media (max-width: 60rem) {
  .book-sidebar { position: static; width: auto; border-right: 0;
    border-bottom: 1px solid #ddd; }
  .book-main { margin-left: 0; padding: 1rem; }
}
"""


def _exporter():
    """nbconvert's HTML exporter (JupyterLab's look) with the book's template."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="book.html.j2",
                        extra_loaders=[DictLoader({"book.html.j2": _TEMPLATE})])


def _finish(page: str, lectures: set[str], assignment_pages: set[str]) -> str:
    """Rewrite the links of a rendered page for the book and list its sections in the sidebar."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    main = soup.find("main")
    for link in (main.find_all("a", href=True) if main else []):
        link["href"] = book_href(link["href"], lectures, assignment_pages)
    sections = soup.find("ul", class_="book-sections")
    if sections is not None and main is not None:
        for heading in main.find_all("h2", id=True):
            item = soup.new_tag("li")
            anchor = soup.new_tag("a", href=f"#{heading['id']}")
            anchor.string = heading.get_text(" ", strip=True).removesuffix("¶").strip()
            item.append(anchor)
            sections.append(item)
    return str(soup)


def markdown_notebook(markdown: str) -> NotebookNode:
    """A notebook of one markdown cell (the index and the assignment pages)."""
    from nbformat.v4 import new_markdown_cell, new_notebook

    return new_notebook(cells=[new_markdown_cell(markdown)])


@dataclass
class Site:
    """What every page of one build shares: the exporter, the contents and the page names."""

    root: Path
    out: Path
    lectures: list[Lecture]
    assignments: list[str]
    footer: str
    exporter: Any = field(init=False, repr=False, default_factory=_exporter)

    def write(self, nb: NotebookNode, name: str, title: str, *, prev: dict | None = None,
              next: dict | None = None, assignment: str | None = None) -> str:  # noqa: A002
        """Render ``nb`` as ``out/<name>.html``; return the file's name."""
        nb.metadata["title"] = f"{title} | {BOOK_TITLE}"
        book = {
            "title": BOOK_TITLE,
            "lectures": [{"href": lec.href, "title": lec.title, "current": lec.stem == name}
                         for lec in self.lectures],
            "assignments": [{"href": f"{a}.html", "title": a, "current": a == name}
                            for a in self.assignments],
            "prev": prev, "next": next,
            "assignment": {"href": f"{assignment}.html", "title": assignment}
            if assignment else None,
            "mathjax_src": MATHJAX_HREF,
            "mathjax_config": json.dumps(MATHJAX_CONFIG),
            "css": _CSS,
            "footer": self.footer,
        }
        resources = {"metadata": {"name": title, "path": str(self.root / "lectures")},
                     "book": book}
        page, _ = self.exporter.from_notebook_node(nb, resources=resources)
        page = _finish(page, {lec.stem for lec in self.lectures}, set(self.assignments))
        requests = external_requests(page)
        if requests:
            raise BookError(f"{name}.html would load from the network: {requests[:3]}")
        filename = f"{name}.html"
        (self.out / filename).write_text(page, encoding="utf-8")
        return filename
