"""Checks shared by the estimators, the transformers and the model files.

Each raises a one-line error that names the estimator or parameter and says what to do, so
that every caller reports the same problem in the same words.
"""

import numbers
import platform
import sys

import numpy as np

__all__ = [
    "TTA_MODES",
    "check_channels_first_images",
    "check_positive_int",
    "check_positive_number",
    "check_tta",
    "loaded_versions",
    "mirror_images",
    "versions",
]

#: Test-time augmentations the estimators and ``predict --tta`` know.
TTA_MODES = (None, "hflip")


def check_positive_int(value, name, allow=()):
    """``value`` if it is an int >= 1 (or one of ``allow``); a bool is not an int here.

    >>> check_positive_int(3, "J")
    3
    >>> check_positive_int(0, "J")
    Traceback (most recent call last):
    ...
    ValueError: J must be a positive integer, got 0.
    """
    if value in allow and not isinstance(value, bool):
        return value
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return value


def check_positive_number(value, name):
    """``value`` if it is a real number > 0 (not a bool).

    >>> check_positive_number(0.1, "lr")
    0.1
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return value


def check_tta(tta):
    """``tta`` if it is a known test-time augmentation (None or ``"hflip"``)."""
    if isinstance(tta, bool) or tta not in TTA_MODES:
        raise ValueError(f"tta must be None or 'hflip', got {tta!r}.")
    return tta


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
