"""The ``device`` parameter: resolving it to a torch device, refusing impossible ones early, and
the descriptor that lets skorch see a real device while ``get_params`` keeps the raw value."""

from ..exceptions import DeviceUnavailableError  # noqa: F401 (raised here)


def resolve_device(device):
    """Return the device that ``device`` stands for.

    ``"auto"`` means CUDA when a GPU is visible and the CPU otherwise; every other value
    (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a :class:`torch.device`, ``None``) is returned as is.
    """
    if isinstance(device, str) and device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def check_device_available(device, owner="estimator"):
    """Raise a clear error when ``device`` asks for an accelerator this machine lacks.

    PyTorch would otherwise fail deep inside the first ``.to()`` call with a message about
    the driver; at ``fit`` we can say what to do instead.
    """
    resolved = resolve_device(device)
    if resolved is None:
        return resolved
    import torch

    try:
        kind = torch.device(resolved).type
    except (RuntimeError, TypeError):
        raise DeviceUnavailableError(
            f"{owner} was given device={device!r}, which is not a device name: use 'auto' "
            "(CUDA when available, otherwise the CPU), 'cpu', 'cuda' or 'cuda:N'."
        ) from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"{owner} was given device={device!r}, but PyTorch sees no CUDA GPU on this machine "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}). "
            "Use device='auto' (CUDA when available, otherwise the CPU) or device='cpu'."
        )
    if kind == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise DeviceUnavailableError(
            f"{owner} was given device={device!r}, but the MPS backend is not available here. "
            "Use device='auto' or device='cpu'."
        )
    return resolved


class DeviceParameter:
    """Data descriptor for ``device``: stores what the user gave, hands skorch a real device.

    skorch reads ``self.device`` in many places (moving modules, tensors, unpickling), so
    ``"auto"`` has to look like ``"cuda"`` or ``"cpu"`` to it. ``get_params`` reports the raw
    value, so ``clone`` and ``GridSearchCV`` keep ``"auto"`` and a model saved on a GPU
    machine picks the CPU where there is none.
    """

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return resolve_device(obj.__dict__.get("device", "cpu"))

    def __set__(self, obj, value):
        obj.__dict__["device"] = value
