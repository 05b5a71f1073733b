"""Checks shared by the estimators, the transformers and the model files.

Each raises a one-line error that names the estimator or parameter and says what to do, so
that every caller reports the same problem in the same words. The type and range of each
parameter are declared instead (``_parameter_constraints``, see ``_param_validation.py``).
"""

import math
import numbers
import platform
import sys

import numpy as np

__all__ = [
    "TTA_MODES",
    "check_channels_first_images",
    "check_finite_params",
    "first_non_finite",
    "loaded_versions",
    "mirror_images",
    "versions",
]

#: Test-time augmentations the estimators and ``predict --tta`` know.
TTA_MODES = (None, "hflip")


def _shown(value):
    """``repr`` of a value for a message; numpy scalars shown as the plain number."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def first_non_finite(value):
    """The first NaN or infinite real number in ``value`` (or in its list or tuple), or None."""
    if _is_real(value):
        return None if math.isfinite(value) else value
    if isinstance(value, list | tuple):
        for item in value:
            bad = first_non_finite(item)
            if bad is not None:
                return bad
    return None


def check_finite_params(params, owner=None):
    """Refuse a NaN or infinite number among ``params`` (a dict), also inside lists or tuples.

    For the keyword arguments an estimator hands on unchecked, such as skorch's routed
    ``optimizer__momentum`` or ``module__drop_rate``: torch takes ``nan`` there silently.

    >>> check_finite_params({"optimizer__momentum": 0.9, "optimizer__betas": (0.9, 0.99)})
    >>> check_finite_params({"optimizer__momentum": float("inf")}, owner="SkinNetClassifier")
    Traceback (most recent call last):
    ...
    ValueError: SkinNetClassifier: optimizer__momentum must be a finite number, got inf.
    """
    for name, value in params.items():
        bad = first_non_finite(value)
        if bad is not None:
            prefix = f"{owner}: " if owner else ""
            shown = _shown(value) if _is_real(value) else f"{_shown(bad)} in {value!r}"
            raise ValueError(f"{prefix}{name} must be a finite number, got {shown}.")


def mirror_images(X):
    """Left-right mirror images of shape (n, C, H, W): the last axis is the width."""
    return np.ascontiguousarray(X[..., ::-1])


def check_channels_first_images(X, owner):
    """``X`` as an array, refused early with a hint unless it can be (n, C, H, W) float images.

    What every estimator that takes :class:`~skin_estimators.ChannelNormalizer`'s output
    checks before scikit-learn's ``validate_data``: no sparse or complex data, no file paths,
    four dimensions, not the ``uint8`` images of :class:`~skin_estimators.ImageLoader`.
    ``owner`` (the class name) starts each message.
    """
    from scipy.sparse import issparse

    if issparse(X):
        raise TypeError(f"Sparse data is not supported: {owner} takes dense images "
                        "(n, C, H, W) from ChannelNormalizer().")
    arr = X if hasattr(X, "ndim") else np.asarray(X)
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {owner} takes real images.")
    if arr.dtype == object or arr.dtype.kind in "USO":
        raise ValueError(
            f"{owner} takes images as a float array (n, C, H, W), but got an array of dtype "
            f"{arr.dtype} (file paths?). Put ImageLoader() and ChannelNormalizer() in front of "
            f"it, e.g. make_pipeline(ImageLoader(size=400), ChannelNormalizer(), {owner}())."
        )
    if arr.ndim != 4:
        raise ValueError(
            f"{owner} expects a 4-D array of images (n_samples, channels, height, width), got "
            f"an array of shape {arr.shape}. ImageLoader() followed by ChannelNormalizer() "
            "produces this layout from image files."
        )
    if arr.dtype == np.uint8:
        raise ValueError(f"{owner} got uint8 images: normalise them first with "
                         "ChannelNormalizer(), which also puts the channels first.")
    return arr


def versions(extra=()):
    """Versions of Python and the libraries that decide a result or read a model file.

    ``extra`` names further distributions (imported here, as ``imbalanced-learn``); the
    optional backbones and wavelets (torchvision, timm, kymatio) are listed when loaded.
    """
    import sklearn
    import skorch
    import torch

    from .._version import __version__

    out = {
        "skin_estimators": __version__, "torch": torch.__version__,
        "scikit-learn": sklearn.__version__, "skorch": skorch.__version__,
        "numpy": np.__version__, "python": platform.python_version(),
    }
    modules = {"imbalanced-learn": "imblearn", "safetensors": "safetensors"}
    for name in extra:
        module = __import__(modules.get(name, name))
        out[name] = module.__version__
    return out


def loaded_versions(names=("torchvision", "timm", "kymatio")):
    """Versions of the optional libraries among ``names`` that this process has imported."""
    return {name: getattr(sys.modules[name], "__version__", "?")
            for name in names if name in sys.modules}
