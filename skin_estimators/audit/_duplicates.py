"""Near-duplicate photos: the same photograph twice, rescanned, recropped or recoloured.

Distance: 1 minus the best Pearson correlation between the 12x12 grey thumbnail of one image
and the thumbnails of crops of the other (the whole image, and 90 % crops at the centre and
the corners, 90 % of the width, of the height or of both), taken both ways. Correlation
ignores brightness and contrast changes; the crops forgive a different framing.

Calibration on skin3's three known pairs (``4-102-4``/``4-102-9``, ``4-102-6``/``4-102``
and ``4-105-7``/``4-110``, the last two being different scans and framings): they are at
0.014, 0.016 and 0.033; the closest pair of photos on different pages that is not a known
copy is at 0.055 (``4-102-11``/``8-71-3``, unrelated). ``DUPLICATE_THRESHOLD`` sits between.
For comparison, the 64-bit perceptual hash (pHash, reported beside) puts the known pairs 10 to
24 bits apart, and on the full-size photos unrelated pairs of different classes from 14 bits
on: no pHash threshold separates them.
"""

import re

import numpy as np
from PIL import Image

__all__ = ["DUPLICATE_THRESHOLD", "THUMBNAIL_INPUT", "duplicate_distances", "phash_bits"]

#: Below this distance a pair is flagged as a near-duplicate (calibrated as said above).
DUPLICATE_THRESHOLD = 0.04

#: Side of the images the thumbnails are cut from (ImageLoader(size=THUMBNAIL_INPUT)).
THUMBNAIL_INPUT = 64

_THUMB = 12
_CROP = 0.9
_ATLAS_PAGE = re.compile(r"^\d+-\d+")


def _unit(vectors):
    v = vectors.reshape(len(vectors), -1).astype(np.float64)
    v = v - v.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norm, 1e-9)  # a flat image correlates with nothing


def _variants(grey):
    """The thumbnails of the whole image and of its 90 % crops: ``(k, _THUMB**2)``."""
    size = grey.shape[0]
    cut = int(round(size * _CROP))
    boxes = [(0, 0, size, size)]
    for w, h in ((cut, size), (size, cut), (cut, cut)):
        for x in sorted({0, (size - w) // 2, size - w}):
            for y in sorted({0, (size - h) // 2, size - h}):
                boxes.append((x, y, x + w, y + h))
    image = Image.fromarray(grey)
    return _unit(np.stack([
        np.asarray(image.crop(box).resize((_THUMB, _THUMB), Image.Resampling.BOX))
        for box in dict.fromkeys(boxes)
    ]))


def duplicate_distances(images):
    """The symmetric ``(n, n)`` near-duplicate distances of RGB images ``(n, s, s, 3)``."""
    grey = images.astype(np.float32).mean(axis=-1).round().astype(np.uint8)
    variants = np.stack([_variants(g) for g in grey])  # (n, k, d); variant 0: whole image
    similarity = np.einsum("id,jkd->ijk", variants[:, 0], variants).max(axis=-1)
    similarity = np.maximum(similarity, similarity.T)
    distance = 1.0 - similarity
    np.fill_diagonal(distance, 0.0)
    return np.clip(distance, 0.0, 2.0)


def phash_bits(images):
    """64-bit DCT perceptual hashes (as ``imagehash.phash``), as a boolean ``(n, 64)`` array."""
    import imagehash  # comes with CleanVision

    return np.array([
        imagehash.phash(Image.fromarray(img)).hash.ravel() for img in images
    ])


def page_of(name):
    """The atlas page at the start of a file name, or None."""
    match = _ATLAS_PAGE.match(name)
    return match.group(0) if match else None
