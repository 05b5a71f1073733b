"""The tensors of a safe model file: reading them, converting them, their digest.

The file's tensors are read as numpy arrays, so that loading a model whose networks run
through ONNX Runtime never imports PyTorch; the networks that are built convert them with
:func:`as_torch`. The digest is the same for the torch tensors written and the arrays read.
"""

import hashlib
import os

__all__ = ["as_torch", "digest", "read_tensors", "tensor_bytes"]


def as_torch(state):
    """``{name: array}`` with torch tensors (the file is read as numpy arrays)."""
    import numpy as np
    import torch

    # A copy: the arrays read from the file are read-only, a network's weights are not.
    return {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v
            for k, v in state.items()}


def tensor_bytes(t):
    """``(dtype name as torch prints it, shape, flat uint8 view)`` of a tensor or an array."""
    import numpy as np

    if isinstance(t, np.ndarray):
        t = np.require(t, requirements="C")  # (ascontiguousarray makes a 0-d array 1-d)
        return f"torch.{t.dtype.name}", tuple(t.shape), t.reshape(-1).view(np.uint8)
    import torch

    t = t.detach().to("cpu").contiguous()
    return str(t.dtype), tuple(t.shape), t.reshape(-1).view(torch.uint8).numpy()


def digest(meta_json, tensors):
    """SHA-256 of the JSON description and every tensor (name, dtype, shape, bytes).

    The same for torch tensors (writing) and the numpy arrays read back: dtypes are named as
    torch names them (``torch.float32``).
    """
    h = hashlib.sha256()
    h.update(meta_json.encode("utf-8"))
    for name in sorted(tensors):
        dtype, shape, data = tensor_bytes(tensors[name])
        h.update(f"\0{name}\0{dtype}\0{shape}\0".encode())
        if data.size:
            h.update(data)  # buffer protocol: no copy
    return h.hexdigest()



def read_tensors(path, framework, meta_key):
    """``(string metadata, {name: tensor})`` of a safetensors model file, as ``framework`` reads
    them (``"numpy"`` or ``"pt"``); ValueError when it has no ``meta_key`` entry."""
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework=framework, device="cpu") as f:
        header = f.metadata() or {}
        if meta_key not in header:
            raise ValueError(
                "it is a safetensors file but not a skin-estimators model file (no "
                f"'{meta_key}' entry in its metadata)"
            )
        return header, {k: f.get_tensor(k) for k in f.keys()}
