"""Helper code shared by the lecture notebooks of "Why won't it train?".

Modules:
    device: pick the compute device (GPU when present, else CPU).
    surfaces: toy error surfaces such as L(w1, w2) = (y - w1 w2 x)^2 and quadratic models.
    hessian: gradients, Hessians and their eigen-decomposition via ``torch.func``.
    plotting: figures used by several lectures (contour plots, the critical-point explorer).
    widgets: `live_figure`, controls above a figure that redraws (used instead of `interact`).
    tiny_mlp: tiny MLPs with a flat parameter vector, trained in bulk with ``torch.func.vmap``.
    checks: the assignments' visible checks, as test cells run them, and a student's self-check
        (``python -m wwit.checks NOTEBOOK``).
"""

__all__ = ["get_device"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``from wwit import get_device`` without importing torch for every ``wwit`` user (a
    student's ``python -m wwit.checks`` needs no torch in its own process)."""
    if name == "get_device":
        from wwit.device import get_device

        return get_device
    raise AttributeError(f"module 'wwit' has no attribute {name!r}")
