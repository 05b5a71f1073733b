"""Networks' weights given as arrays: into torch tensors, and into an estimator's networks.

A safe model file is read as numpy arrays, so that a model whose networks run through ONNX
Runtime never imports PyTorch; the estimators that build their networks convert the arrays
here. PyTorch is imported only when a network is built.
"""

__all__ = ["as_torch", "load_frozen"]


def as_torch(state):
    """``{name: array}`` with torch tensors (the file is read as numpy arrays)."""
    import numpy as np
    import torch

    # A copy: the arrays read from the file are read-only, a network's weights are not.
    return {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v
            for k, v in state.items()}


def load_frozen(est, states, where):
    """Build ``est``'s frozen networks and load ``states`` (``{attr: {name: array}}``) into them.

    ``est`` builds its networks, without their pretrained weights, with its
    ``_initialize_for_loading()``; ValueError, naming ``where``, when a network does not
    take its weights.
    """
    import torch

    if not hasattr(est, "_initialize_for_loading"):
        raise ValueError(f"{where} stores networks, but {type(est).__name__} cannot rebuild them")
    with torch.random.fork_rng(devices=[]):
        est._initialize_for_loading()  # builds the networks without their pretrained weights
    for attr, state in states.items():
        module = getattr(est, attr, None)
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"{where}.{attr} is not a network this version builds")
        state = as_torch(state)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"the weights of {where}.{attr} do not fit the network this version builds "
                f"from its parameters ({str(exc).splitlines()[0]})"
            ) from None
