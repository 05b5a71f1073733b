"""A frozen network's weights kept as arrays until a network is needed.

:class:`PretrainedFeatures` loaded from a safe model file runs its network through ONNX
Runtime when a graph of exactly those weights is cached (see ``_onnx_backend``). Building
the PyTorch network would then only cost time (importing torch and timm, about 3 s on a
laptop's CPU), so the file's arrays are kept and the network is built, with every check a
model file's networks get, only when something asks for it: the torch backend, an export
for a new image size, ``backbone_`` itself, pickling or saving.
"""

import hashlib

import numpy as np

__all__ = ["features_out", "weights_digest"]


def weights_digest(state):
    """BLAKE2 digest of a state dict's names and bytes, by name (torch tensors or arrays).

    The same for a network's ``state_dict()`` and the arrays a model file holds: bytes are
    taken in C order whatever the memory layout (``channels_last`` included).
    """
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(state):
        value = state[name]
        if not isinstance(value, np.ndarray):
            value = value.detach().cpu().numpy()
        digest.update(name.encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def features_out(state, stages):
    """Length of the feature vector EfficientNet-Lite weights give, or None if unknown.

    The pooled head's width (``conv_head``) plus, for each chosen stage, the width of its
    last block's output convolution, as :class:`PretrainedFeatures` counts them from the
    network.
    """
    head = state.get("conv_head.weight")
    if head is None or head.ndim != 4:
        return None
    total = int(head.shape[0])
    for i in stages:
        blocks = {int(k.split(".")[2]) for k in state
                  if k.startswith(f"blocks.{i}.") and k.split(".")[2].isdigit()}
        if not blocks:
            return None
        last = f"blocks.{i}.{max(blocks)}."
        out = state.get(last + "conv_pwl.weight", state.get(last + "conv_pw.weight"))
        if out is None:
            return None
        total += int(out.shape[0])
    return total
