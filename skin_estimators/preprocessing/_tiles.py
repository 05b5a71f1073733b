"""Tiles: the whole photo as a fixed number of overlapping crops, stacked into one strip.

``ImageLoader(tiles=k)`` cuts ``k`` windows of the output's aspect ratio out of each photo
(after the bottom band and the common pixel scale), spread evenly along its longer side from
one end to the other, and stacks them from top to bottom into one image of ``k * height``
rows: ``(n, k * height, width, 3)``. Every array keeps one row per photo, so the strip goes
through :class:`ChannelNormalizer` and any step that takes images; ``PretrainedFeatures(
tiles=k)`` cuts it back into its tiles and averages (or takes the maximum of) their features.
The number of tiles is a parameter, never a property of the file: a photo's size or aspect
does not change what the model receives, only what the tiles hold.
"""

import numbers

import numpy as np
from PIL import ImageOps

from ._color_constancy import COLOR_CONSTANCY

__all__ = ["TILE_REDUCTIONS", "check_loader_options", "merge_tiles", "split_tiles",
           "tile_image"]

#: How ``PretrainedFeatures(tiles=k)`` combines the features of a photo's tiles.
TILE_REDUCTIONS = ("mean", "max")

#: At most this many tiles (more would only repeat pixels: a strip of k * 224 rows).
MAX_TILES = 16


def _check_tiles(tiles, owner):
    if tiles is None:
        return None
    if not (isinstance(tiles, numbers.Integral) and not isinstance(tiles, (bool, np.bool_))
            and 1 <= tiles <= MAX_TILES):
        raise ValueError(f"{owner}'s tiles must be None or an int between 1 and {MAX_TILES} "
                         f"(crops along the photo's longer side), got {tiles!r}.")
    return int(tiles)


def check_loader_options(loader):
    """Validate an ImageLoader's ``tiles`` and ``color_constancy``; return them as a dict."""
    tiles = _check_tiles(getattr(loader, "tiles", None), "ImageLoader")
    if tiles is not None and loader.resize != "crop":
        raise ValueError(f"ImageLoader's tiles needs resize='crop' (each tile is a crop), got "
                         f"resize={loader.resize!r}.")
    method = getattr(loader, "color_constancy", None)
    if method is not None and (not isinstance(method, str) or method not in COLOR_CONSTANCY):
        raise ValueError(f"ImageLoader's color_constancy must be None or one of "
                         f"{list(COLOR_CONSTANCY)}, got {method!r}.")
    return {"tiles": tiles, "color_constancy": method}


def tile_image(im, size, tiles, resample):
    """The ``tiles`` windows of PIL image ``im``, resized to ``size`` and stacked.

    Each window has the aspect ratio of ``size`` (``(height, width)``) and spans the whole
    shorter side of the photo (relative to that aspect); along the longer side the first
    window starts at one end, the last ends at the other, and the others are evenly spaced
    between, so that together they cover the photo (with overlaps, or with gaps only for a
    photo more than ``tiles`` times as long as a window). One tile is the centre crop,
    identical to ``resize="crop"``. A square photo gives ``tiles`` equal tiles.

    Returns
    -------
    ndarray of shape (tiles * height, width, 3), uint8
    """
    th, tw = size
    positions = [0.5] if tiles == 1 else [i / (tiles - 1) for i in range(tiles)]
    # ImageOps.fit crops only along the side that is too long; centering places the window.
    crops = [np.asarray(ImageOps.fit(im, (tw, th), method=resample, centering=(t, t)),
                        dtype=np.uint8) for t in positions]
    return np.concatenate(crops, axis=0)


def check_tile_params(tiles, reduce, owner="PretrainedFeatures"):
    """Validate ``tiles`` and ``tile_reduce`` of a feature step; return ``tiles`` (or None)."""
    tiles = _check_tiles(tiles, owner)
    if not isinstance(reduce, str) or reduce not in TILE_REDUCTIONS:
        raise ValueError(f"{owner}'s tile_reduce must be one of {list(TILE_REDUCTIONS)}, got "
                         f"{reduce!r}.")
    return tiles


def split_tiles(X, tiles, reduce, owner="PretrainedFeatures"):
    """Cut strips ``(n, C, k * h, w)`` into tiles ``(n * k, C, h, w)``.

    Returns the tiles and the ``k`` to give :func:`merge_tiles` (1 when ``tiles`` is None).
    """
    k = check_tile_params(tiles, reduce, owner)
    if k is None:
        return X, 1
    n, c, height, width = X.shape
    if height % k:
        raise ValueError(f"{owner} with tiles={k} takes strips of {k} tiles stacked from top "
                         f"to bottom, as ImageLoader(tiles={k}) makes them; got images "
                         f"{height} pixels high, not a multiple of {k}.")
    h = height // k
    out = X.reshape(n, c, k, h, width).transpose(0, 2, 1, 3, 4).reshape(n * k, c, h, width)
    return np.ascontiguousarray(out), k


def merge_tiles(features, k, reduce):
    """Features ``(n * k, F)`` of the tiles to ``(n, F)``: their mean or maximum."""
    if k == 1:
        return features
    per_photo = features.reshape(len(features) // k, k, *features.shape[1:])
    return per_photo.max(axis=1) if reduce == "max" else per_photo.mean(axis=1)
