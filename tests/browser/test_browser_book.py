"""The book offline: pages opened from ``file://`` and from a local web server, with every other
request blocked, show typeset math and each widget's static figure, and no request fails."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
LECTURES = ("00_notation", "05_batch_normalization")


def widget_cells(stem: str) -> int:
    """How many code cells of the lecture display a :func:`wwit.widgets.live_figure`."""
    notebook = nbformat.read(ROOT / "lectures" / f"{stem}.ipynb", as_version=4)
    return sum("live_figure(" in cell.source for cell in notebook.cells
               if cell.cell_type == "code")


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book of :data:`LECTURES`, built by ``python -m autograder book`` into a tmp folder."""
    out = tmp_path_factory.mktemp("book") / "book"
    done = subprocess.run([sys.executable, "-m", "autograder", "book", *LECTURES, "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def book_server(book: Path) -> Iterator[str]:
    """The book served over HTTP on localhost (a free port); its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _local(url: str) -> bool:
    return url.startswith(("file://", "data:", "http://localhost:", "http://127.0.0.1:"))


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_book_offline_math_and_static_widgets(page, book, book_server, shot, scheme) -> None:
    base = book.as_uri() if scheme == "file" else book_server
    blocked: list[str] = []
    failed: list[str] = []

    def block_network(route) -> None:  # noqa: ANN001 - Playwright's Route
        if _local(route.request.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", block_network)
    page.on("requestfailed", lambda request: failed.append(
        f"{request.url[:120]} ({request.failure})"))

    page.goto(f"{base}/index.html")
    for stem in LECTURES:
        assert page.locator(f"a[href='{stem}.html']").count() > 0, f"index lacks {stem}"
    shot(page, f"book_{scheme}", "index")

    for stem in LECTURES:
        page.goto(f"{base}/{stem}.html")
        # MathJax typesets after the load event; its start-up promise resolves when done.
        page.wait_for_function("() => window.MathJax && MathJax.startup && "
                               "MathJax.startup.promise", timeout=60_000)
        page.evaluate("() => MathJax.startup.promise.then(() => true)")
        assert page.locator("mjx-container").count() > 0, f"{stem}: no typeset math"
        assert page.locator("mjx-merror").count() == 0, f"{stem}: a TeX error"
        broken = page.evaluate("() => [...document.images].filter("
                               "img => !img.complete || img.naturalWidth === 0).length")
        assert broken == 0, f"{stem}: {broken} image(s) did not load"
        statics = page.locator("figure.book-static-widget")
        assert statics.count() == widget_cells(stem), f"{stem}: static widget figures"
        assert statics.locator("img").count() >= statics.count()
        shot(page, f"book_{scheme}", stem)
        if statics.count():
            statics.first.scroll_into_view_if_needed()
            shot(page, f"book_{scheme}", f"{stem}_static_widget")

    assert blocked == [], f"requests to the network: {blocked}"
    assert failed == [], f"failed requests: {failed}"
