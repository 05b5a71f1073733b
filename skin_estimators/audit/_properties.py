"""Cheap properties of image files, read from their headers: what a model could learn instead
of the disease when the photos of each class come from their own source.

Every property is a small float table ``(n_images, n_columns)`` so that a classifier can be
trained on it alone; missing values (no EXIF, not a JPEG) are coded as -1, a value no real
property takes.
"""

import os

import numpy as np

from ..utils._image_files import open_image

__all__ = ["FILE_PROPERTIES", "GEOMETRY", "file_properties", "geometry_features", "is_large"]

_EXIF_SOFTWARE = 0x0131
_MISSING = -1.0

#: The file properties, with what each column is, in the order of the report.
FILE_PROPERTIES = {
    "width": ["log2 width (pixels)"],
    "height": ["log2 height (pixels)"],
    "aspect": ["log2 width / height"],
    "file_size": ["log2 bytes"],
    "jpeg_quantization": ["mean of quantisation table 0", "mean of table 1", "number of tables"],
    "exif": ["EXIF Software tag (code)", "DPI (x)", "DPI (y)"],
    "jfif": ["JFIF header present"],
}


def _header(path):
    """The properties of one file, from its header (pixels are not decoded)."""
    with open_image(path) as im:
        w, h = im.size
        tables = getattr(im, "quantization", None) or {}
        exif = im.getexif()
        dpi = im.info.get("dpi")
        return {
            "width": w,
            "height": h,
            "q0": float(np.mean(tables[0])) if 0 in tables else _MISSING,
            "q1": float(np.mean(tables[1])) if 1 in tables else _MISSING,
            "n_tables": float(len(tables)),
            "software": str(exif.get(_EXIF_SOFTWARE, "")).strip(),
            "dpi": tuple(float(v) for v in dpi[:2]) if dpi else (_MISSING, _MISSING),
            "jfif": "jfif" in im.info,
        }


def file_properties(filenames):
    """The cheap file properties of ``filenames``: ``({name: (n, k) array}, details)``.

    ``details`` holds what the arrays code: the EXIF Software strings (their codes are
    their index in ``details["software"]``, -1 for none) and the raw width and height.
    """
    rows = [_header(os.fspath(f)) for f in filenames]
    software = sorted({r["software"] for r in rows if r["software"]})
    code = {name: float(i) for i, name in enumerate(software)}
    width = np.array([r["width"] for r in rows], dtype=float)
    height = np.array([r["height"] for r in rows], dtype=float)
    sizes = np.array([os.path.getsize(f) for f in filenames], dtype=float)
    props = {
        "width": np.log2(width)[:, None],
        "height": np.log2(height)[:, None],
        "aspect": np.log2(width / height)[:, None],
        "file_size": np.log2(np.maximum(sizes, 1.0))[:, None],
        "jpeg_quantization": np.array([[r["q0"], r["q1"], r["n_tables"]] for r in rows]),
        "exif": np.array(
            [[code.get(r["software"], _MISSING), *r["dpi"]] for r in rows], dtype=float
        ),
        "jfif": np.array([[float(r["jfif"])] for r in rows]),
    }
    details = {"software": software, "width": width.astype(int), "height": height.astype(int)}
    return props, details


#: The image geometry: the properties of the geometry shortcut baseline.
GEOMETRY = ("width", "height", "aspect")


def geometry_features(filenames):
    """``(n, 3)`` log width, log height and log aspect of the files (headers only)."""
    props, _ = file_properties(filenames)
    return np.hstack([props[name] for name in GEOMETRY])


def is_large(details, threshold=1000):
    """Whether each original photo has at least ``threshold`` pixels on its longer side."""
    return np.maximum(details["width"], details["height"]) >= threshold
