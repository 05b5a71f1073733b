"""The parameters of ImageLoader: what each takes, and the output size and threads they give."""

import numbers
import os

from joblib import effective_n_jobs

from ..utils._param_validation import BOOLEAN, Interval, Satisfies, StrOptions, is_int
from ._color_constancy import COLOR_CONSTANCY
from ._decode import MIN_IMAGE_SIZE, RESAMPLING, RESIZE_MODES
from ._tiles import MAX_TILES

__all__ = ["IMAGE_LOADER_CONSTRAINTS", "MAX_IMAGE_SIDE", "as_size", "n_threads"]

#: Largest output side. 4096 x 4096 RGB is 48 MiB an image, 10x the usual 400 px; beyond it
#: a typo (size=60000) would ask for terabytes before the first image is read.
MAX_IMAGE_SIDE = 4096


def as_size(size):
    """``(height, width)`` of a valid ``size`` parameter, else None."""
    if is_int(size):
        size = (size, size)
    if (isinstance(size, tuple | list) and len(size) == 2
            and all(is_int(s) and 1 <= s <= MAX_IMAGE_SIDE for s in size)):
        return int(size[0]), int(size[1])
    return None


def n_threads(n_jobs):
    """Decoding threads for a valid ``n_jobs`` (joblib's conventions)."""
    if n_jobs is None:
        # scikit-learn's convention: 1 unless inside joblib.parallel_config(n_jobs=...).
        # Capped at the core count, since a dask or ray backend may report its whole cluster.
        return max(1, min(effective_n_jobs(None), os.cpu_count() or 1))
    if n_jobs > 0:
        return int(n_jobs)
    return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))  # joblib's convention


#: ImageLoader's declared parameter constraints.
IMAGE_LOADER_CONSTRAINTS = {
    "size": [Satisfies(lambda s: as_size(s) is not None, (
        "a positive int or a (height, width) pair of positive ints, at most "
        f"{MAX_IMAGE_SIDE} pixels a side"))],
    "resize": [StrOptions(RESIZE_MODES)],
    "interpolation": [StrOptions(RESAMPLING)],
    "n_jobs": [None, Satisfies(lambda n: is_int(n) and n != 0,
                               "a positive int or a negative int (-1: all CPU cores)")],
    "cache": [BOOLEAN],
    "crop_bottom": [Interval(numbers.Real, 0, 1, closed="left",
                             text="a fraction of the height in [0, 1), e.g. 0.15")],
    "common_scale": [None, Interval(numbers.Integral, MIN_IMAGE_SIZE, None,
                                    closed="left", text=f"an int >= {MIN_IMAGE_SIZE} "
                                                        "(pixels on the shorter side)")],
    "tiles": [None, Interval(numbers.Integral, 1, MAX_TILES, closed="both",
                             text=f"an int between 1 and {MAX_TILES} (crops along the "
                                  "photo's longer side)")],
    "color_constancy": [None, StrOptions(set(COLOR_CONSTANCY))],
}
