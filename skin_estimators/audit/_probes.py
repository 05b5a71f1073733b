"""Features for the two probes: the corners of an image, and traces of its original size.

*Corner probe*: a watermark, a frame or a ruler sits in a corner; a classifier that sees only
the corners and still tells the classes apart has found one (or the photos of a class share
a background). Each corner (``CORNER_FRACTION`` of the width and height) is summarised by
its colour, contrast, near-white and near-black area and edge density: text, logos and
frames show in these, skin texture much less.

*Size probe*: whether a photo was large (>= 1000 px a side) before it was resized. Resizing
keeps traces of the original resolution (sharpness, noise, JPEG block artefacts); the probe
summarises them as the share of the image's energy in each band of spatial frequency.
"""

import numpy as np

__all__ = ["CORNERS", "CORNER_FRACTION", "corner_crops", "corner_features", "size_features"]

#: Side of each corner crop, as a fraction of the image's height and width.
CORNER_FRACTION = 0.15

#: Names of the four corners, in the order of the crops.
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")


def corner_crops(images, fraction=CORNER_FRACTION):
    """The four corner crops of each image: a list of 4-tuples of ``(h, w, 3)`` arrays."""
    _, height, width, _ = images.shape
    h = max(1, int(round(height * fraction)))
    w = max(1, int(round(width * fraction)))
    return [
        (img[:h, :w], img[:h, -w:], img[-h:, :w], img[-h:, -w:]) for img in images
    ]


def _corner_summary(crop):
    c = crop.astype(np.float32) / 255.0
    grey = c.mean(axis=-1)
    edges_x = np.abs(np.diff(grey, axis=1)).mean() if grey.shape[1] > 1 else 0.0
    edges_y = np.abs(np.diff(grey, axis=0)).mean() if grey.shape[0] > 1 else 0.0
    return [
        *c.mean(axis=(0, 1)),
        *c.std(axis=(0, 1)),
        float((c.min(axis=-1) > 0.85).mean()),  # near-white: printed text, frames
        float((c.max(axis=-1) < 0.12).mean()),  # near-black: text, borders
        float(edges_x),
        float(edges_y),
        float(np.percentile(grey, 99) - np.median(grey)),  # bright marks on the background
    ]


def corner_features(images, fraction=CORNER_FRACTION):
    """``{corner name: (n, 11) array}`` plus ``"all corners"``: the four side by side."""
    crops = corner_crops(images, fraction)
    per_corner = {
        name: np.array([_corner_summary(cs[k]) for cs in crops])
        for k, name in enumerate(CORNERS)
    }
    per_corner["all corners"] = np.hstack([per_corner[name] for name in CORNERS])
    return per_corner


def size_features(images, n_bands=8):
    """Log share of spectral energy in ``n_bands`` radial bands, plus gradient energy."""
    grey = images.astype(np.float32).mean(axis=-1)
    grey -= grey.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.rfft2(grey)) ** 2
    h, w = grey.shape[1:]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.sqrt(fx**2 + fy**2) / 0.5  # 0 (DC) .. 1 (Nyquist) .. 1.41 (corner)
    band = np.minimum((radius * n_bands).astype(int), n_bands - 1)
    total = power.sum(axis=(1, 2)) + 1e-12
    shares = np.stack(
        [power[:, band == b].sum(axis=1) / total for b in range(n_bands)], axis=1
    )
    gx = np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2))
    gy = np.abs(np.diff(grey, axis=1)).mean(axis=(1, 2))
    return np.column_stack([np.log(shares + 1e-12), np.log(gx + 1e-6), np.log(gy + 1e-6)])
