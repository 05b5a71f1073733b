"""The tensors of a safe model file: reading them, checking them, their digest.

The file's tensors are read as numpy arrays, so that loading a model whose networks run
through ONNX Runtime never imports PyTorch; the networks that are built convert them
(``utils/_torch_state.py``). The digest is the same for the torch tensors written and the
arrays read.
"""

import hashlib
import os

__all__ = ["check_tensors", "digest", "read_tensors", "tensor_bytes"]


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


def check_tensors(tensors):
    """Raise InconsistentModelError naming the first tensor that holds a NaN or an infinity.

    A network computes with every one of its weights and buffers: one NaN (a bias, a batch
    normalisation's running variance) turns every output into NaN, which a classifier then
    reports as a class. So every floating-point tensor of a file must be finite, and a batch
    normalisation's ``running_var`` non-negative, before anything is built from them.
    """
    import numpy as np

    from ..exceptions import InconsistentModelError

    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(t, np.ndarray):  # a dtype numpy lacks (bfloat16): read by torch
            t = t.detach().float().numpy()
        if t.dtype.kind not in "fc":
            continue
        finite = np.isfinite(t)
        if not finite.all():
            bad = t[~finite].ravel()[0]
            raise InconsistentModelError(
                f"its tensor {name!r:.120} holds {bad.item()!r} ({int((~finite).sum())} of "
                f"{t.size} values are not finite numbers)")
        if name.endswith("running_var") and (t < 0).any():
            raise InconsistentModelError(
                f"its tensor {name!r:.120} holds a negative variance")


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
