"""Turning the ``device`` parameter into a torch device, and refusing impossible ones early."""

import torch


class DeviceUnavailableError(ValueError, RuntimeError):
    """A ``device`` this machine cannot use (a bad name, or an accelerator it lacks).

    A ``ValueError`` (a wrong parameter value, reported in one line by the command line) and,
    for code written against earlier versions, a ``RuntimeError``.
    """


def resolve_device(device):
    """Return the device that ``device`` stands for.

    ``"auto"`` means CUDA when a GPU is visible and the CPU otherwise; every other value
    (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a :class:`torch.device`, ``None``) is returned as is.
    """
    if isinstance(device, str) and device == "auto":
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
