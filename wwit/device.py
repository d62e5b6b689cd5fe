"""Choosing where tensors live."""

from __future__ import annotations

import torch


def get_device(prefer_gpu: bool = True) -> torch.device:
    """Return the device lecture code should run on.

    Args:
        prefer_gpu: If True, return ``cuda`` when a CUDA GPU is visible, then ``mps`` on Apple
            silicon; otherwise (or when neither exists) return ``cpu``.

    Returns:
        torch.device: The chosen device.
    """
    if prefer_gpu and torch.cuda.is_available():
        return torch.device("cuda")
    if prefer_gpu and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
