"""The student kit's case file: visible cases and their expected results as JSON data.

``autograder kit`` computes every visible case and its expected result once, on the
instructor's machine, and :func:`dumps` them; the kit's checks :func:`loads` them. The format
is plain JSON (arrays as base64 with their dtype and shape), never pickle, so a case file can
only describe data: no code is loaded from it.

Besides numbers, strings, lists, tuples, dicts and arrays, a case may hold:

* PyTorch tensors (dtype, ``requires_grad`` and whether it is a ``Parameter`` are kept);
* ``torch.nn`` modules (a ``Linear``, a ``Sequential`` of layers, a loss), rebuilt from their
  attributes: the module class is looked up in ``torch.nn`` by name, never imported by path;
* references to functions and objects of the exercise's harness module (the test objectives
  of ``numerical_gradient``, for example), rebuilt from the kit's own harness code by name, and
  functions made by a harness factory (``_steps_compare(ADAM)``), stored as the factory's name
  and its arguments.
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import sys
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

_NUMERIC_KINDS = "biufc"


class DataError(ValueError):
    """A value cannot be stored in, or read from, a case file."""


def _array(array: np.ndarray) -> dict[str, Any]:
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise DataError(f"cannot store an array of dtype {array.dtype}")
    array = np.ascontiguousarray(array) if array.ndim else np.asarray(array)
    return {"dtype": array.dtype.str, "shape": list(array.shape),
            "b64": base64.b64encode(array.tobytes()).decode("ascii")}


def _from_array(obj: Mapping[str, Any]) -> np.ndarray:
    dtype = np.dtype(str(obj["dtype"]))
    if dtype.kind not in _NUMERIC_KINDS:
        raise DataError(f"bad dtype {dtype}")
    raw = base64.b64decode(str(obj["b64"]).encode("ascii"), validate=True)
    return np.frombuffer(raw, dtype=dtype).reshape([int(n) for n in obj["shape"]]).copy()


def encode(value: Any, name_of: Callable[[Any], tuple[str, str] | None]) -> Any:
    """Turn a case or an expected result into JSON-compatible data.

    Args:
        value: What to store.
        name_of: Returns ``(module, name)`` for a function or class of a harness module (which
            the kit ships), else ``None``.

    Raises:
        DataError: The value holds something that cannot be stored.
    """
    def enc(v: Any) -> Any:
        kind = type(v)
        if v is None or kind in (bool, str, int):
            return v
        if kind is float:
            return v if math.isfinite(v) else {"$": "float", "v": repr(v)}
        if kind is list:
            return [enc(x) for x in v]
        if kind is tuple:
            return {"$": "tuple", "items": [enc(x) for x in v]}
        if kind in (dict, OrderedDict):
            if not all(type(k) is str for k in v):
                raise DataError("only dicts with string keys can be stored")
            return {"$": "odict" if kind is OrderedDict else "dict",
                    "items": {k: enc(x) for k, x in v.items()}}
        if kind in (set, frozenset):
            return {"$": "set", "items": sorted(enc(x) for x in v)}
        if kind is np.ndarray:
            return {"$": "ndarray", **_array(v)}
        if isinstance(v, np.generic):
            return {"$": "npscalar", **_array(np.asarray(v))}
        torch_value = _encode_torch(v, enc, name_of)
        if torch_value is not None:
            return torch_value
        ref = name_of(v)
        if ref is not None:
            return {"$": "ref", "module": ref[0], "name": ref[1]}
        closure = _encode_closure(v, enc, name_of)
        if closure is not None:
            return closure
        ref = name_of(kind)
        if ref is not None:
            return {"$": "object", "module": ref[0], "name": ref[1], "state": enc(vars(v))}
        raise DataError(f"cannot store a {kind.__module__}.{kind.__qualname__} in a case file")

    return enc(value)


def _encode_closure(v: Any, enc: Callable[[Any], Any],
                    name_of: Callable[[Any], tuple[str, str] | None]) -> Any:
    """A function made by a module-level factory whose closure holds only the factory's
    arguments (``_steps_compare(ADAM)``): stored as the factory's name and those arguments."""
    qualname = getattr(v, "__qualname__", "")
    if not inspect.isfunction(v) or ".<locals>." not in qualname:
        return None
    factory = getattr(sys.modules.get(v.__module__), qualname.split(".<locals>.")[0], None)
    ref = name_of(factory) if factory is not None else None
    if ref is None:
        return None
    names = v.__code__.co_freevars
    params = inspect.signature(factory).parameters
    if not set(names) <= set(params):
        raise DataError(f"{qualname} keeps more than its factory's arguments in its closure")
    arguments = {n: c.cell_contents for n, c in zip(names, v.__closure__ or (), strict=True)}
    return {"$": "closure", "module": ref[0], "name": ref[1], "kwargs": enc(arguments)}


def _encode_torch(v: Any, enc: Callable[[Any], Any],
                  name_of: Callable[[Any], tuple[str, str] | None]) -> Any:
    import torch

    if type(v) in (torch.Tensor, torch.nn.Parameter):
        tensor = v.detach().cpu()
        return {"$": "tensor", "torch_dtype": str(tensor.dtype).removeprefix("torch."),
                "requires_grad": bool(v.requires_grad),
                "parameter": type(v) is torch.nn.Parameter,
                **_array(tensor.contiguous().numpy())}
    if isinstance(v, torch.dtype):
        return {"$": "torch_dtype", "name": str(v).removeprefix("torch.")}
    if isinstance(v, torch.nn.Module):
        kind = type(v)
        if getattr(torch.nn, kind.__name__, None) is kind:
            return {"$": "module", "module": "torch.nn", "name": kind.__name__,
                    "state": enc(vars(v))}
        ref = name_of(kind)
        if ref is None:
            raise DataError(f"cannot store a module of class {kind.__qualname__}: define it in "
                            "the harness or use torch.nn layers")
        return {"$": "module", "module": ref[0], "name": ref[1], "state": enc(vars(v))}
    return None


def decode(obj: Any, namespaces: Mapping[str, Mapping[str, Any]]) -> Any:
    """Rebuild a value stored by :func:`encode`.

    Args:
        obj: The JSON data.
        namespaces: Harness module name -> its globals, for references.
    """
    def lookup(module: str, name: str) -> Any:
        if module == "torch.nn":
            import torch

            found = getattr(torch.nn, name, None)
            if not (isinstance(found, type) and issubclass(found, torch.nn.Module)):
                raise DataError(f"torch.nn has no module class {name!r}")
            return found
        try:
            return namespaces[module][name]
        except KeyError:
            raise DataError(f"the kit's harness {module!r} has no {name!r}") from None

    def restore(cls: type, state: dict[str, Any]) -> Any:
        instance = cls.__new__(cls)
        instance.__dict__.update(state)
        return instance

    def dec(o: Any) -> Any:
        if o is None or type(o) in (bool, int, float, str):
            return o
        if type(o) is list:
            return [dec(x) for x in o]
        tag = o.get("$")
        if tag == "float":
            return float(o["v"])
        if tag == "tuple":
            return tuple(dec(x) for x in o["items"])
        if tag == "dict":
            return {k: dec(x) for k, x in o["items"].items()}
        if tag == "odict":
            return OrderedDict((k, dec(x)) for k, x in o["items"].items())
        if tag == "set":
            return {dec(x) for x in o["items"]}
        if tag == "ndarray":
            return _from_array(o)
        if tag == "npscalar":
            return _from_array(o)[()]
        if tag == "tensor":
            import torch

            tensor = torch.from_numpy(_from_array(o)).to(getattr(torch, o["torch_dtype"]))
            if o["parameter"]:
                return torch.nn.Parameter(tensor, requires_grad=o["requires_grad"])
            return tensor.requires_grad_(o["requires_grad"])
        if tag == "torch_dtype":
            import torch

            return getattr(torch, o["name"])
        if tag == "ref":
            return lookup(o["module"], o["name"])
        if tag == "closure":
            return lookup(o["module"], o["name"])(**dec(o["kwargs"]))
        if tag in ("object", "module"):
            return restore(lookup(o["module"], o["name"]), dec(o["state"]))
        raise DataError(f"unknown tag {tag!r}")

    return dec(obj)


def dumps(value: Any) -> str:
    """JSON text of already encoded data (no NaN literals: they are tagged)."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """Parse a case file's JSON text (decode it with :func:`decode`)."""
    return json.loads(text)
