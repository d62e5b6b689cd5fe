"""Data-only transport of results out of the sandbox: JSON with tagged arrays, never pickle.

The sandbox :func:`encode` s what a student's function returned; the grader :func:`decode` s it
with strict validation, so a malicious submission can send only numbers, strings and arrays, and
the grader never runs code the student wrote. Types are kept exact: a subclass of
``numpy.ndarray`` or any object of a class the student defined arrives as
:class:`Unsupported`, which no comparison accepts.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Largest encoded message the grader accepts, in bytes.
MAX_MESSAGE_BYTES = 64 * 2**20
_MAX_DEPTH = 32
_NUMERIC_KINDS = "biufc"


class WireError(ValueError):
    """A message from the sandbox is malformed."""


@dataclass(frozen=True)
class Unsupported:
    """A value of a type that cannot cross the wire (shown to the student by its type name).

    Attributes:
        type_name: ``module.qualname`` of the value's type.
        student_class: True when the class was defined in the student's notebook.
        overrides: Special methods the class defines itself (``__eq__``, ``__array_ufunc__``...).
    """

    type_name: str
    student_class: bool = False
    overrides: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


_SPECIAL = ("__eq__", "__ne__", "__array_ufunc__", "__array_function__", "__array__",
            "__torch_function__", "__float__", "__bool__", "__len__", "__getitem__")


def _describe_type(value: Any) -> dict[str, Any]:
    cls = type(value)
    module = getattr(cls, "__module__", "?")
    name = getattr(cls, "__qualname__", cls.__name__)
    overrides = [m for m in _SPECIAL if m in getattr(cls, "__dict__", {})]
    return {"$": "unsupported", "type": f"{module}.{name}", "student": module == "__main__",
            "overrides": overrides}


def _array_payload(array: np.ndarray) -> dict[str, Any]:
    if not array.flags.c_contiguous:
        array = array.copy(order="C")  # (np.ascontiguousarray would make 0-d arrays 1-d)
    return {"dtype": array.dtype.str, "shape": list(array.shape),
            "b64": base64.b64encode(array.tobytes()).decode("ascii")}


def encode(value: Any, depth: int = 0) -> Any:
    """Turn a result into JSON-compatible data (runs in the sandbox).

    Exact types only: ``type(x) is list`` rather than ``isinstance``, so nothing the student
    defined (an ``__eq__`` override, a ``list`` subclass) is ever called or trusted.
    """
    if depth > _MAX_DEPTH:
        return {"$": "unsupported", "type": "too deeply nested", "student": False,
                "overrides": []}
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        return value if abs(value) < 2**63 else {"$": "float", "v": repr(float(value))}
    if kind is float:
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind is tuple:
        return {"$": "tuple", "items": [encode(v, depth + 1) for v in value]}
    if kind is dict:
        if not all(type(k) is str for k in value):
            return _describe_type(value)
        return {"$": "dict", "items": {k: encode(v, depth + 1) for k, v in value.items()}}
    if kind is np.ndarray:
        if value.dtype.kind not in _NUMERIC_KINDS:
            return _describe_type(value)
        return {"$": "ndarray", **_array_payload(value)}
    if isinstance(value, np.generic) and kind.__module__ == "numpy":
        if np.dtype(kind).kind not in _NUMERIC_KINDS:
            return _describe_type(value)
        return {"$": "npscalar", **_array_payload(np.asarray(value))}
    torch_value = _encode_tensor(value)
    if torch_value is not None:
        return torch_value
    return _describe_type(value)


def _encode_tensor(value: Any) -> dict[str, Any] | None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    if type(value) not in (torch.Tensor, torch.nn.Parameter):
        return None
    tensor = value.detach().cpu()
    dtype = str(tensor.dtype).removeprefix("torch.")
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    if tensor.is_sparse or tensor.dtype.is_complex and dtype not in ("complex64", "complex128"):
        return _describe_type(value)
    return {"$": "tensor", "torch_dtype": dtype, "parameter": type(value) is not torch.Tensor,
            **_array_payload(tensor.contiguous().numpy())}


def dumps(value: Any) -> bytes:
    """Encode a message (already made of plain data) as UTF-8 JSON bytes."""
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes) -> Any:
    """Parse a message's bytes; raise :class:`WireError` on anything malformed."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(data)} bytes is over the limit")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"not valid JSON: {exc}") from None


def _decode_array(obj: dict[str, Any]) -> np.ndarray:
    try:
        dtype = np.dtype(str(obj["dtype"]))
        shape = tuple(int(n) for n in obj["shape"])
        raw = base64.b64decode(str(obj["b64"]).encode("ascii"), validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"bad array: {exc}") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or any(n < 0 for n in shape):
        raise WireError(f"bad array dtype or shape: {dtype} {shape}")
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise WireError("array size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode(obj: Any, depth: int = 0) -> Any:
    """Rebuild a value from :func:`encode` 's data (runs in the grader, trusts nothing)."""
    if depth > _MAX_DEPTH + 1:
        raise WireError("nested too deeply")
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if type(obj) is list:
        return [decode(v, depth + 1) for v in obj]
    if type(obj) is not dict:
        raise WireError(f"unexpected JSON value {type(obj).__name__}")
    tag = obj.get("$")
    if tag == "float":
        text = obj.get("v")
        if text not in ("nan", "inf", "-inf") and not isinstance(text, str):
            raise WireError("bad float")
        try:
            return float(text)
        except ValueError:
            raise WireError("bad float") from None
    if tag == "tuple":
        items = obj.get("items")
        if type(items) is not list:
            raise WireError("bad tuple")
        return tuple(decode(v, depth + 1) for v in items)
    if tag == "dict":
        items = obj.get("items")
        if type(items) is not dict:
            raise WireError("bad dict")
        return {str(k): decode(v, depth + 1) for k, v in items.items()}
    if tag == "ndarray":
        return _decode_array(obj)
    if tag == "npscalar":
        array = _decode_array(obj)
        if array.shape != ():
            raise WireError("numpy scalar with a shape")
        return array[()]
    if tag == "tensor":
        import torch

        array = _decode_array(obj)
        name = str(obj.get("torch_dtype", ""))
        dtype = getattr(torch, name, None)
        if not isinstance(dtype, torch.dtype):
            raise WireError(f"bad torch dtype {name!r}")
        tensor = torch.from_numpy(array).to(dtype)
        return torch.nn.Parameter(tensor, requires_grad=False) if obj.get("parameter") else tensor
    if tag == "unsupported":
        overrides = obj.get("overrides") or []
        return Unsupported(str(obj.get("type", "?"))[:200], bool(obj.get("student")),
                           tuple(str(m)[:40] for m in overrides if isinstance(m, str))[:20])
    raise WireError(f"unknown tag {tag!r}")
