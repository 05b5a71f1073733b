"""Colour constancy: one white balance for photos from different cameras and lights.

Both methods estimate the colour of the light from the image itself and divide it out,
channel by channel (a von Kries correction). *Shades of Gray* (Finlayson & Trezzi, 2004)
takes the illuminant as the Minkowski p-norm mean of each channel, with p = 6, the value
common in dermatology pipelines; *grey-world* is the same with p = 1 (the plain mean).
The gains are scaled so that an image that is already neutral is left unchanged:
``gain_c = 1 / (sqrt(3) * e_c / |e|)``.
"""

import numpy as np
from PIL import Image

__all__ = ["COLOR_CONSTANCY", "apply_color_constancy", "illuminant"]

#: ImageLoader's ``color_constancy`` options -> the Minkowski norm p of the estimate.
COLOR_CONSTANCY = {"shades_of_gray": 6, "grey_world": 1}


def illuminant(rgb, p):
    """Unit-length estimate of the light's colour: the p-norm mean of each channel.

    ``rgb`` is a float array ``(H, W, 3)`` in 0..1; returns ``(3,)``, or None for a black
    image (no light to estimate).
    """
    flat = rgb.reshape(-1, 3)
    e = np.mean(flat.astype(np.float64) ** p, axis=0) ** (1.0 / p)
    norm = np.sqrt(np.sum(e**2))
    return None if norm == 0 else e / norm


def apply_color_constancy(im, method):
    """Return RGB PIL image ``im`` white-balanced with ``method`` (a COLOR_CONSTANCY key).

    Computed in floating point; the result is rounded and clipped to 0..255. A channel that
    is black throughout stays black.
    """
    rgb = np.asarray(im, dtype=np.float32) / np.float32(255.0)
    e = illuminant(rgb, COLOR_CONSTANCY[method])
    if e is None:
        return im
    with np.errstate(divide="ignore"):
        gain = np.where(e > 0, 1.0 / (np.sqrt(3.0) * e), 0.0).astype(np.float32)
    out = np.clip(np.rint(rgb * gain * np.float32(255.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(out, "RGB")
