"""JupyterLab on the instructor's repository (``make lab``): keep the course's notebooks clean.

The repository commits its notebooks without outputs (CONTRIBUTING.md). JupyterLab autosaves
whatever runs in it, so ``make lab`` installs :func:`pre_save` as the contents manager's pre-save
hook: a notebook saved under one of :data:`CLEAN_FOLDERS` loses its outputs and execution counts
on disk (the open tab keeps them). Work elsewhere (``student/``, a kit, a copy) is saved as is.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

#: Folders whose notebooks are committed: lectures, instructor sources, released student versions.
CLEAN_FOLDERS = ("lectures", "source", "notebooks")


def pre_save(model: dict[str, Any], path: str, **_: Any) -> None:
    """Strip outputs and execution counts from a course notebook about to be saved.

    Args:
        model: Jupyter's contents model; ``model["content"]`` is the notebook as a dict.
        path: The file's API path, relative to the server's root (``lectures/01_....ipynb``).
    """
    parts = PurePosixPath(path.lstrip("/")).parts
    if model.get("type") != "notebook" or not parts or parts[0] not in CLEAN_FOLDERS:
        return
    for cell in model["content"].get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
