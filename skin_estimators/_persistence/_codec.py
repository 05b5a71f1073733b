"""Parameters and fitted attributes as JSON, and back, without executing anything.

JSON has no tuples, no arrays, no non-string keys and no classes, so those are written as
small tagged objects: ``{"__tuple__": [...]}``, ``{"__ndarray__": [...], "dtype": ...}``,
``{"__dict__": [[key, value], ...]}``, ``{"__type__": "torch.optim.SGD"}``,
``{"__device__": "cuda:0"}`` and, for the library's own callbacks,
``{"__callback__": "skin_estimators.callbacks.WeightAveraging", "params": {...}}``. Every dict is written in the tagged pair form, so a user's dict
can never be mistaken for a tag. Classes are named through the allow-list in
``_registry.py``; anything else (a callable, a callback instance, a random generator) cannot
be represented, and saving says so. A text holds at most ``MAX_TEXT`` characters, written
or read. A callback is rebuilt from its constructor parameters
only, never from its fitted state.
"""

import numbers
import re

import numpy as np

from ..exceptions import InconsistentModelError, UnrepresentableError  # noqa: F401
from ..utils._fields import MAX_TEXT
from ._registry import callback_class, callback_name, type_by_name, type_name

__all__ = ["MAX_DEPTH", "InconsistentModelError", "UnrepresentableError", "check_device_name",
           "decode", "encode"]

# Kinds of numpy arrays that JSON can hold exactly (float64 reprs round-trip in Python's json).
_ARRAY_KINDS = "biufUO"

#: How deeply lists, tuples and dicts may nest in a model file. The library writes at most a
#: handful of levels (a training log is a list of dicts of lists of dicts); the bound keeps a
#: crafted file from exhausting the interpreter's stack.
MAX_DEPTH = 64

#: The devices a file may name: the CPU, a CUDA GPU (optionally numbered) and Apple's MPS.
_DEVICE = re.compile(r"(cpu|cuda|cuda:[0-9]{1,4}|mps)")


def check_device_name(name, where):
    """Return ``name`` if it is a device a model can run on; InconsistentModelError otherwise."""
    if not isinstance(name, str) or not _DEVICE.fullmatch(name):
        raise InconsistentModelError(
            f"{where} names the device {name!r:.40}, which is not 'cpu', 'cuda', 'cuda:N' "
            "or 'mps'"
        )
    return name


def encode(value, where, _depth=0):
    """Return a JSON-serialisable form of ``value``; raise UnrepresentableError if impossible."""
    if _depth >= MAX_DEPTH and isinstance(value, (tuple, list, dict)):
        raise UnrepresentableError(where, value, f"which nests at most {MAX_DEPTH} levels deep")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise UnrepresentableError(where, f"{value[:40]}...", f"whose texts hold at most "
                                   f"{MAX_TEXT} characters (this one has {len(value)})")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, f"{where}[{i}]", _depth + 1)
                              for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode(v, f"{where}[{i}]", _depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, f"{where} key", _depth + 1),
                              encode(v, f"{where}[{k!r}]", _depth + 1)]
                             for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise UnrepresentableError(where, value)
        if value.dtype.kind == "O":
            items = value.ravel().tolist()
            if not all(isinstance(v, (str, int, float, bool)) for v in items):
                raise UnrepresentableError(where, value)
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str if value.dtype.kind != "O"
                else "object", "shape": list(value.shape)}
    name = type_name(value)
    if name is not None:
        return {"__type__": name}
    name = callback_name(value)
    if name is not None:
        return {"__callback__": name,
                "params": encode(value.get_params(deep=False), where, _depth + 1)}
    import torch

    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    raise UnrepresentableError(where, value)


def decode(obj, where="value", _depth=0):
    """Inverse of :func:`encode`; raises ValueError on anything it does not know."""
    if isinstance(obj, str) and len(obj) > MAX_TEXT:
        raise InconsistentModelError(f"{where} is a text of {len(obj)} characters; a model "
                                     f"file's texts hold at most {MAX_TEXT}")
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if _depth >= MAX_DEPTH:
        raise InconsistentModelError(f"{where} nests more than {MAX_DEPTH} levels deep")
    _depth += 1
    if isinstance(obj, list):
        return [decode(v, where, _depth) for v in obj]
    if not isinstance(obj, dict) or len(obj) == 0:
        raise ValueError(f"{where}: unexpected value {obj!r:.80}")
    if "__tuple__" in obj:
        return tuple(decode(v, where, _depth) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {decode(k, where, _depth): decode(v, where, _depth) for k, v in obj["__dict__"]}
    if "__ndarray__" in obj:
        dtype = obj["dtype"]
        if dtype == "object":
            items = obj["__ndarray__"]
            if not isinstance(items, list) or not all(
                    isinstance(v, (str, int, float, bool)) for v in items):
                raise ValueError(f"{where}: an object array holds strings and numbers only")
            for item in items:
                decode(item, where, _depth)  # the bound on texts
            arr = np.empty(len(items), dtype=object)
            arr[:] = items
        else:
            dtype = np.dtype(dtype)
            if dtype.kind not in _ARRAY_KINDS:
                raise ValueError(f"{where}: arrays of dtype {dtype} are not allowed")
            if dtype.kind in "US" and dtype.itemsize > 4 * MAX_TEXT:
                raise InconsistentModelError(f"{where}: arrays of dtype {dtype} hold texts "
                                             f"longer than {MAX_TEXT} characters")
            arr = np.array(obj["__ndarray__"], dtype=dtype)
        return arr.reshape(obj["shape"])
    if "__type__" in obj:
        try:
            return type_by_name(obj["__type__"])
        except KeyError:
            raise ValueError(
                f"{where} names the class {obj['__type__']!r}, which this version of "
                "skin-estimators does not allow in model files"
            ) from None
    if "__callback__" in obj:
        try:
            cls = callback_class(obj["__callback__"])
        except KeyError:
            raise ValueError(
                f"{where} names the callback {obj['__callback__']!r}, which this version of "
                "skin-estimators does not allow in model files"
            ) from None
        params = decode(obj["params"], where, _depth)
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise ValueError(f"{where}: the parameters of {obj['__callback__']} must be a dict")
        return cls(**params)
    if "__device__" in obj:
        import torch

        return torch.device(check_device_name(obj["__device__"], where))
    raise ValueError(f"{where}: unexpected value {obj!r:.80}")
