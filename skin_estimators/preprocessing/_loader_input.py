"""What ImageLoader accepts as ``X``: lists, arrays and columns of paths, or images."""

import os

import numpy as np
from PIL import Image
from scipy.sparse import issparse

__all__ = ["PATH_TYPES", "as_items"]

PATH_TYPES = (str, bytes, os.PathLike)
_PATH_TYPES = PATH_TYPES


def as_items(X):
    """Return ``(kind, items, is_column)``; kind "batch" (numeric array) or "items" (list)."""
    if isinstance(X, _PATH_TYPES) or isinstance(X, Image.Image):
        raise ValueError(
            f"ImageLoader takes a list of images, got a single {type(X).__name__} {X!r:.80}; "
            "wrap it in a list, e.g. [path]."
        )
    if issparse(X):
        raise TypeError("ImageLoader takes file paths or images; sparse input is not supported.")
    is_column = False
    if hasattr(X, "iloc"):  # pandas: a Series, or a DataFrame with one column of paths
        if getattr(X, "ndim", 1) == 2:
            if X.shape[1] != 1:
                raise ValueError(
                    "ImageLoader takes a DataFrame with a single column of paths, got "
                    f"{X.shape[1]} columns: {list(X.columns)[:10]}."
                )
            X, is_column = X.iloc[:, 0], True
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        if X.dtype.kind in "OUS":
            if X.ndim == 2 and X.shape[1] == 1:
                X, is_column = X[:, 0], True
            if X.ndim != 1:
                raise ValueError(
                    "ImageLoader takes paths as a 1-D array or a column (n_samples, 1), got an "
                    f"array of shape {X.shape}."
                )
            items = list(X)
        elif X.dtype.kind in "uif":
            if not (X.ndim == 3 or (X.ndim == 4 and X.shape[3] in (1, 3, 4))):
                raise ValueError(
                    "ImageLoader takes file paths or images, got a numeric array of shape "
                    f"{X.shape}. Pass paths, or images as (n, height, width, 3) RGB, "
                    "(n, height, width, 4) RGBA or (n, height, width) grey arrays."
                )
            _check_n_samples(len(X))
            return "batch", X, False
        elif X.dtype.kind == "c":
            raise ValueError("Complex data not supported: ImageLoader takes paths or images.")
        else:
            raise ValueError(
                f"ImageLoader takes file paths or images, got an array of dtype {X.dtype}."
            )
    else:
        try:
            items = list(X)
        except TypeError:
            raise ValueError(
                f"ImageLoader takes a list of file paths or images, got {type(X).__name__}."
            ) from None
        if items and all(isinstance(it, (list, tuple)) and len(it) == 1 for it in items):
            items, is_column = [it[0] for it in items], True  # [[path], [path], ...]
    _check_n_samples(len(items))
    return "items", items, is_column


def _check_n_samples(n):
    if n == 0:
        raise ValueError("ImageLoader got 0 images; at least one is required.")
