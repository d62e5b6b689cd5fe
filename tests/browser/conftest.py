"""Browser tests: Playwright drives headless Chromium through the course as a person would.

``make test-browser`` runs them; ``make test`` does not collect this folder (pyproject.toml's
``--ignore=tests/browser``). The browser is the operating system's Chromium (Debian's
``chromium`` package, ``/usr/bin/chromium``, or ``WWIT_CHROMIUM=/path``): Playwright's own
browser download is never used. Without Chromium or the ``playwright`` package every test is
skipped, and pytest's summary says why in one line.

Nothing here touches the repository: JupyterLab runs ``make lab`` in a throwaway copy of the
course (its tracked and unignored files, with ``.venv`` linked), the student kit is built into a
temporary folder, and a session check asserts that ``git status`` is the same before and after.
Jupyter's own state (settings, workspaces, runtime files) also goes to temporary folders.
Every meaningful step leaves a screenshot, ``build/browser-screenshots/NN_<test>_<step>.png``,
and the terminal summary lists each test's time.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab_pages import EXPOSE_APP

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "browser-screenshots"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Without these, Chromium keeps trying to reach Google's services; on a closed network those
#: connections are refused and slow every page down.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The longest a JupyterLab server may take to answer its first request (a busy 2-core machine).
LAB_START_TIMEOUT = 180
VIEWPORT = {"width": 1400, "height": 900}
#: JupyterLab settings of the test servers: every cell in the page (JupyterLab 4 renders only
#: the cells near the viewport by default, and the tests read every output), and no question
#: about Jupyter's news (a pop-up over the notebook).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def chromium_path() -> str:
    """The Chromium binary: ``$WWIT_CHROMIUM``, else Debian's ``/usr/bin/chromium``."""
    return os.environ.get("WWIT_CHROMIUM") or DEFAULT_CHROMIUM


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here (one line), or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("browser tests skipped: the Python package playwright is not installed; "
                "run `make venv` (requirements.txt pins it)")
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return (f"browser tests skipped: {path} not found; install Debian's chromium "
                "(apt-get install chromium) or set WWIT_CHROMIUM=/path/to/chromium")
    return None


# ---------------------------------------------------------------------------------------------
# Session: skip without a browser, keep the repository clean, time every test.
# ---------------------------------------------------------------------------------------------

_DURATIONS: dict[str, dict[str, float]] = {}
_SCREENSHOTS_TAKEN: list[Path] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium or Playwright, report one skip saying why (and deselect the rest), not
    one per test."""
    reason = missing_requirement()
    here = Path(__file__).parent
    browser = [item for item in items if here in Path(item.path).parents]
    if reason is None or not browser:
        return
    browser[0].add_marker(pytest.mark.skip(reason=f"{reason} ({len(browser)} tests not run)"))
    rest = set(browser[1:])
    if rest:
        config.hook.pytest_deselected(items=list(rest))
        items[:] = [item for item in items if item not in rest]


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    """Skip every browser test when Chromium or Playwright is missing (see above)."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)


def _git_status() -> str | None:
    try:
        return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                              cwd=ROOT, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


@pytest.fixture(scope="session", autouse=True)
def _repository_unchanged(_browser_available: None) -> Iterator[None]:
    """The browser tests leave no trace in the repository (outside the git-ignored build/)."""
    before = _git_status()
    yield
    after = _git_status()
    if after != before:
        old, new = set(before.splitlines()), set(after.splitlines())
        pytest.fail("the browser tests changed the repository (git status --porcelain): "
                    f"new lines {sorted(new - old)}, gone {sorted(old - new)}", pytrace=False)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if (ROOT / report.nodeid.split("::")[0]).parent == Path(__file__).parent:
        _DURATIONS.setdefault(report.nodeid, {})[report.when] = report.duration


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's reporter
    ran = {nodeid: phases for nodeid, phases in _DURATIONS.items() if "call" in phases}
    if not ran:
        return
    terminalreporter.section("browser test times (the test; in brackets, its set-up: servers, "
                             "kit, book shared with later tests)")
    for nodeid, phases in ran.items():
        terminalreporter.write_line(f"{phases.get('call', 0.0):7.1f} s  "
                                    f"(+{phases.get('setup', 0.0):5.1f} s)  {nodeid}")
    if _SCREENSHOTS_TAKEN:
        terminalreporter.write_line(f"{len(_SCREENSHOTS_TAKEN)} screenshots in {SCREENSHOTS}:")
        for path in _SCREENSHOTS_TAKEN:
            terminalreporter.write_line(f"  {path.name}")


# ---------------------------------------------------------------------------------------------
# The browser and its pages.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(_browser_available: None, tmp_path_factory: pytest.TempPathFactory):
    """Headless Chromium of the operating system, driven by Playwright, with a temporary home
    (Chromium writes its crash-report settings and dconf cache under ``~`` otherwise)."""
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(),
                                              args=[*CHROMIUM_ARGS, "--disable-breakpad"],
                                              env=env)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page (its own context: no cookies shared between tests), clipboard allowed."""
    context = browser.new_context(viewport=VIEWPORT)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


class Screenshots:
    """Numbered screenshots of the whole session: ``NN_<test>_<step>.png``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken = _SCREENSHOTS_TAKEN

    def __call__(self, page, test: str, step: str, full_page: bool = False) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}_{test}_{step}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path


@pytest.fixture(scope="session")
def shot(_browser_available: None) -> Screenshots:
    """Take a screenshot: ``shot(page, "lab", "run_all")``; the folder is emptied per session."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return Screenshots(SCREENSHOTS)


# ---------------------------------------------------------------------------------------------
# JupyterLab servers.
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on now (the server binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server.

    Attributes:
        root: The folder it serves.
        port: Its port on localhost.
        token: Its login token.
        process: The process (``make lab`` or ``jupyter lab``), leader of its process group.
        log: Its combined stdout and stderr.
        env: Its environment (for commands run beside it, such as ``nbgrader``).
    """

    root: Path
    port: int
    token: str
    process: subprocess.Popen
    log: Path
    env: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://localhost:{self.port}"

    def url(self, path: str = "lab") -> str:
        """The URL of ``path`` (``lab``, ``lab/tree/<file>``, ``formgrader``) with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


#: Where a test server keeps Jupyter's per-user state (a folder of its own, not ``~``): its
#: settings, workspaces, runtime files, nbgrader's cache of submissions (in the data folder)...
JUPYTER_STATE = {
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
    "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
}


def jupyter_env(state: Path, pythonpath: Path) -> dict[str, str]:
    """The environment of a test server: Jupyter's state in ``state``, ``pythonpath`` first.

    ``PYTHONPATH`` makes the server and its kernels import ``wwit`` (and ``autograder``) from
    the folder served (the course copy, the kit), ahead of the course's editable install.
    """
    env = dict(os.environ)
    for name, sub in JUPYTER_STATE.items():
        (state / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(state / sub)
    for name, settings in LAB_SETTINGS.items():
        path = state / "lab-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings), encoding="utf-8")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _ready(lab: Lab) -> bool:
    request = urllib.request.Request(f"{lab.base}/api/status",
                                     headers={"Authorization": f"token {lab.token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start_lab(command: list[str], root: Path, port: int, token: str, env: dict[str, str],
              log: Path) -> Lab:
    """Start ``command`` in ``root`` (its own process group) and wait until it answers."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    lab = Lab(root, port, token, process, log, env)
    deadline = time.monotonic() + LAB_START_TIMEOUT
    while not _ready(lab):
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n"
                               f"{lab.log_tail()}")
        if time.monotonic() > deadline:
            stop_lab(lab)
            raise RuntimeError(f"JupyterLab did not answer within {LAB_START_TIMEOUT} s:\n"
                               f"{lab.log_tail()}")
        time.sleep(0.5)
    return lab


def stop_lab(lab: Lab) -> None:
    """Stop the server's process group (it shuts its kernels down); kill it if it hangs."""
    if lab.process.poll() is not None:
        return
    try:
        os.killpg(lab.process.pid, signal.SIGTERM)
        lab.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(lab.process.pid, signal.SIGKILL)
        lab.process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _project_files() -> list[str]:
    """The course's files: tracked, plus new ones git does not ignore (work in progress)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, check=True, capture_output=True).stdout
    return [name for name in out.decode().split("\0") if name]


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway copy of the course (its git files, times kept), with the course's ``.venv``."""
    dest = tmp_path_factory.mktemp("course")
    for name in _project_files():
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


@pytest.fixture(scope="session")
def course_lab(course_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``make lab`` on the course copy, on a free port with a random token; stopped afterwards.

    The environment also puts the course environment first on ``PATH`` (as the Makefile does),
    for the ``nbgrader`` commands the tests run beside the server.

    ``-o .venv/.installed`` tells make not to refresh the (shared, linked) environment: the
    copy's files are new to make, and ``make test`` has already installed it.
    """
    state = tmp_path_factory.mktemp("course-jupyter")
    port, token = free_port(), secrets.token_hex(16)
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "lab", f"PORT={port}",
               f"TOKEN={token}", f"LAB_ARGS={EXPOSE_APP}"]
    env = jupyter_env(state, course_copy)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    lab = start_lab(command, course_copy, port, token, env, state / "lab.log")
    yield lab
    stop_lab(lab)


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student kit of a01_critical_points, built into a temporary folder."""
    out = tmp_path_factory.mktemp("kit") / "kit"
    subprocess.run([sys.executable, "-m", "autograder", "kit", "a01_critical_points", "--out",
                    str(out)], cwd=ROOT, check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def kit_lab(kit: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on the kit, as the kit's ``make lab`` runs it, with the course's environment.

    The kit's own ``make lab`` would first install a new environment (minutes); its ``.venv``
    puts the kit folder on ``sys.path`` (a ``.pth`` file): ``PYTHONPATH`` does the same here,
    so the kernel imports the kit's ``wwit`` (visible cases as data), not the course's.
    """
    state = tmp_path_factory.mktemp("kit-jupyter")
    port, token = free_port(), secrets.token_hex(16)
    command = [str(ROOT / ".venv" / "bin" / "jupyter"), "lab", f"--port={port}", "--no-browser",
               f"--ServerApp.root_dir={kit}", f"--IdentityProvider.token={token}", EXPOSE_APP]
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = jupyter_env(state, kit)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    lab = start_lab(command, kit, port, token, env, state / "lab.log")
    yield lab
    stop_lab(lab)
