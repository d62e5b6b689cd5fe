"""Shared fixtures: the course root and notebooks executed once per session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from autograder import notebooks
from autograder.engine.execute import KernelExecutor

ROOT = Path(__file__).resolve().parents[1]


def tracked_notebooks() -> list[Path]:
    """Notebooks under version control (or on disk when not in a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    paths = [ROOT / p for p in out] or sorted(
        p for d in ("lectures", "source", "notebooks") for p in (ROOT / d).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts)
    return [p for p in paths if p.exists()]


def source_notebooks() -> list[Path]:
    return sorted((ROOT / "source").glob("*/*.ipynb"))


def released_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*/*.ipynb"))


def lecture_notebooks() -> list[Path]:
    return sorted((ROOT / "lectures").glob("*.ipynb"))


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def execute():
    """Execute a notebook in a fresh kernel (cached per path) and return it."""
    cache: dict[Path, object] = {}

    def run(path: Path):
        if path not in cache:
            nb = notebooks.read(path)
            cache[path] = KernelExecutor(timeout=120).execute(nb, path.parent)
        return cache[path]

    return run
