"""Turning one image (a file, a PIL image or an array) into an RGB uint8 array of a given size.

Everything here works on a single image and raises on any problem; collecting the problems of
a whole batch into one :class:`ImageLoadError` is the job of ``_image_loader.py``.
"""

import errno
import math
import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..utils._image_files import UnreadableFile, file_problem, open_image
from ._color_constancy import apply_color_constancy
from ._tiles import tile_image

__all__ = [
    "MIN_IMAGE_SIZE",
    "PAD_COLOR",
    "RESAMPLING",
    "RESIZE_MODES",
    "decode_file",
    "describe_error",
    "image_to_array",
]

#: Smallest accepted source image, in pixels per side. Smaller "images" are nearly always
#: broken exports, icons or tracking pixels, and a 1x1 photo stretched to 400x400 would train
#: a model on a flat colour without anyone noticing.
MIN_IMAGE_SIZE = 8

#: Colour of the borders that ``resize="pad"`` adds: black, as torchvision's ``Pad`` and most
#: letterboxing do.
PAD_COLOR = (0, 0, 0)

#: Colour that transparent pixels are composited onto.
ALPHA_BACKGROUND = (255, 255, 255)

RESIZE_MODES = ("stretch", "pad", "crop")

RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}

# Raster formats that photographs come in. Pillow can open many more, but some run external
# programs on load (EPS calls Ghostscript) or are rarely fuzzed; an unlisted format is reported
# as "not a supported image file". MPO (multi-picture JPEG from phones) is a JPEG variant.
_FORMATS = (
    "JPEG",
    "MPO",
    "PNG",
    "TIFF",
    "BMP",
    "DIB",
    "WEBP",
    "GIF",
    "PPM",
    "TGA",
    "JPEG2000",
    "AVIF",
)

# JPEGs are decoded directly at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, through
# Image.draft) when the result is still at least _DRAFT_GAP times the target size, as
# Image.thumbnail does. The bilinear resize that follows still sees twice the detail it keeps,
# so the output barely changes: 0.27 grey levels mean absolute difference for skin3's
# photos at 64x64 (1.8x faster), 0.1 for 4000x3000 photos at 400x400 (2.4x faster).
_USE_DRAFT = True
_DRAFT_GAP = 2.0

_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class _Rejected(Exception):
    """An image that decoded but is not acceptable; the message is the reason."""


def _open_formats():
    Image.init()  # plugins register lazily; make sure the list below is complete
    return [f for f in _FORMATS if f in Image.OPEN]


def decode_file(path, size, resize, resample, crop_bottom=0.0, common_scale=None, **options):
    """Read the image file at ``path`` and return it as a uint8 array ``(H, W, 3)``.

    ``size`` is ``(height, width)``; ``crop_bottom`` and ``common_scale`` are ImageLoader's
    (see :func:`_reframe`), ``options`` its ``tiles`` and ``color_constancy``. Raises on any
    problem; :func:`describe_error` turns the exception into a reason for the user.
    """
    problem = file_problem(path)  # a FIFO would block the read; a loop is one reason
    if problem is not None:
        raise _Rejected(problem)
    if os.path.getsize(path) == 0:
        raise _Rejected("empty file (0 bytes)")
    with open_image(path, formats=_open_formats()) as im:
        _check_pixels(im.size)
        if _USE_DRAFT:
            _draft(im, size, resize, crop_bottom, common_scale)
        # Pillow decodes lazily: load() is where corrupt and truncated data is found, so it
        # must run here, inside the caller's error handling. LOAD_TRUNCATED_IMAGES is left as
        # it is (False by default): a truncated file is an error, not grey-filled.
        im.load()
        return _finish(im, size, resize, resample, crop_bottom, common_scale, **options)


def image_to_array(image, size, resize, resample, crop_bottom=0.0, common_scale=None,
                   **options):
    """Convert a PIL image or an array (H, W), (H, W, 1|3|4) to a uint8 array ``(H, W, 3)``."""
    if isinstance(image, Image.Image):
        _check_pixels(image.size)
        image.load()
        return _finish(image, size, resize, resample, crop_bottom, common_scale, **options)
    arr = _check_array(np.asarray(image))
    reframed = crop_bottom or common_scale is not None or any(options.values())
    if arr.ndim == 3 and arr.shape[2] == 3 and arr.shape[:2] == tuple(size) and not reframed:
        return arr  # already what we want; the caller copies it into the output
    return _finish(_array_to_pil(arr), size, resize, resample, crop_bottom, common_scale,
                   **options)


def _check_pixels(wh):
    w, h = wh
    limit = Image.MAX_IMAGE_PIXELS
    # Pillow itself only warns between MAX_IMAGE_PIXELS and twice that; a warning is easily
    # missed, so we refuse there already.
    if limit and w * h > limit:
        raise _Rejected(_bomb_reason(w, h))
    if min(w, h) < MIN_IMAGE_SIZE:
        raise _Rejected(
            f"image is only {w}x{h} pixels; ImageLoader needs at least "
            f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}"
        )


def _bomb_reason(w=None, h=None):
    dims = f" ({w}x{h} = {w * h} pixels)" if w is not None else ""
    return (
        f"image is larger than PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS}{dims}, "
        "Pillow's guard against decompression bombs; if you trust the file, raise that limit"
    )


def _draft(im, size, resize, crop_bottom=0.0, common_scale=None):
    """Let a JPEG decode at reduced scale when the target is much smaller (see _DRAFT_GAP)."""
    if im.format not in ("JPEG", "MPO"):
        return
    w, h = im.size
    orientation = im.getexif().get(_EXIF_ORIENTATION)
    if orientation in _SWAPS_AXES:  # draft works on stored pixels, size is after rotation
        w, h = h, w
    th, tw = size
    kept_h = h * (1.0 - crop_bottom)  # the part of the height that reaches the resize
    if resize == "stretch":
        scale_w, scale_h = tw / w, th / kept_h
    else:
        scale_w = scale_h = (min if resize == "pad" else max)(tw / w, th / kept_h)
    if common_scale is not None:
        # The common pixel scale is an intermediate image: it must be as sharp as a full
        # decode would make it, whatever the final size.
        common = common_scale / min(w, kept_h)
        scale_w, scale_h = max(scale_w, common), max(scale_h, common)
    need_w, need_h = w * scale_w, h * scale_h
    req = (math.ceil(need_w * _DRAFT_GAP), math.ceil(need_h * _DRAFT_GAP))
    if orientation in _SWAPS_AXES:
        req = req[::-1]
    im.draft(None, req)


def _finish(im, size, resize, resample, crop_bottom=0.0, common_scale=None, tiles=None,
            color_constancy=None):
    if im.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        # Phones store portrait photos sideways with an orientation tag. (exif_transpose
        # would also copy untagged images, hence the test.)
        im = ImageOps.exif_transpose(im)
    im = _to_rgb(im)
    im = _reframe(im, resample, crop_bottom, common_scale)
    if color_constancy is not None:  # on the whole photo, before the resize or the tiles
        im = apply_color_constancy(im, color_constancy)
    if tiles is not None:
        return tile_image(im, size, tiles, resample)
    im = _resize(im, size, resize, resample)
    return np.asarray(im, dtype=np.uint8)


def _reframe(im, resample, crop_bottom, common_scale):
    """The controlled-input steps before the resize: cut a bottom band, set a pixel scale.

    ``crop_bottom``: the fraction of the (upright) height removed at the bottom, where
    watermarks and rulers usually sit. ``common_scale``: resize, keeping the aspect ratio, so
    that the shorter side has this many pixels, so that every photo reaches the model at
    one pixel scale whatever its original resolution.
    """
    w, h = im.size
    if crop_bottom:
        kept = int(round(h * (1.0 - crop_bottom)))
        if kept < MIN_IMAGE_SIZE:
            raise _Rejected(
                f"image is only {w}x{h} pixels; after crop_bottom={crop_bottom} it would be "
                f"{w}x{kept}, under ImageLoader's minimum of {MIN_IMAGE_SIZE}"
            )
        im, h = im.crop((0, 0, w, kept)), kept
    if common_scale is not None and min(w, h) != common_scale:
        scale = common_scale / min(w, h)
        im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)
    return im


def _to_rgb(im):
    """RGB with transparency composited on white and 16-bit values scaled, not clipped."""
    if im.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own I;16 -> L conversion clips at 255 (most of a 16-bit image turns
        # white); scale the 0..65535 range to 0..255 instead. 32-bit "I" images (how some
        # readers open 16-bit files) are taken to use the same range.
        a = np.asarray(im).astype(np.float32) * (255.0 / 65535.0)
        im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        # Dropping alpha would show whatever colour the file stores under transparent pixels
        # (often black or junk); compositing on a fixed background is well defined.
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode != "RGB":
        # Grey, bilevel, palette, CMYK (Pillow undoes Adobe's inverted CMYK), YCbCr, ...
        # No ICC colour management, like the torchvision pipeline of the reference study.
        im = im.convert("RGB")
    return im


def _resize(im, size, resize, resample):
    th, tw = size
    if im.size == (tw, th):
        return im
    if resize == "stretch":
        return im.resize((tw, th), resample)
    if resize == "pad":
        return ImageOps.pad(im, (tw, th), method=resample, color=PAD_COLOR)
    # "crop": ImageOps.fit cuts the centred region of the target's aspect ratio out of the
    # source and resizes only that (same geometry as resize-shorter-side-then-centre-crop,
    # one resampling step).
    return ImageOps.fit(im, (tw, th), method=resample)


def _check_array(arr):
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise _Rejected(
            f"an image array must be (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, "
            f"got shape {arr.shape}"
        )
    h, w = arr.shape[:2]
    if min(h, w) < MIN_IMAGE_SIZE:
        raise _Rejected(
            f"image is only {w}x{h} pixels; ImageLoader needs at least "
            f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}"
        )
    kind = arr.dtype.kind
    if kind == "f":
        if not np.isfinite(arr).all():
            raise _Rejected("image array contains NaN or infinity")
        if arr.min() < 0 or arr.max() > 1:
            raise _Rejected(
                f"float image values must lie in [0, 1], got [{arr.min():g}, {arr.max():g}]; "
                "for 0..255 values pass a uint8 array"
            )
        arr = np.rint(arr * 255.0).astype(np.uint8)
    elif kind in "ui":
        if arr.dtype != np.uint8:
            if arr.min() < 0 or arr.max() > 255:
                raise _Rejected(
                    f"integer image values must lie in [0, 255], got "
                    f"[{arr.min()}, {arr.max()}]; convert 16-bit images to uint8 first"
                )
            arr = arr.astype(np.uint8)
    else:
        raise _Rejected(
            f"image arrays must be uint8 (0..255) or float (0..1), got dtype {arr.dtype}"
        )
    return arr


def _array_to_pil(arr):
    if arr.ndim == 2:
        return Image.fromarray(arr, "L")
    return Image.fromarray(np.ascontiguousarray(arr), "RGB" if arr.shape[2] == 3 else "RGBA")


def describe_error(exc):
    """A short, user-facing reason for why an image could not be loaded."""
    if isinstance(exc, (_Rejected, UnreadableFile)):
        return str(exc)
    if isinstance(exc, Image.DecompressionBombError):
        return _bomb_reason()
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return file_problem(exc.filename) if exc.filename else "a link that loops"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not an image file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image file, or not in a supported format (" + ", ".join(_FORMATS) + ")"
    if isinstance(exc, MemoryError):
        return "not enough memory to decode the image (corrupt size in the header?)"
    text = str(exc).strip() or "no details"
    if isinstance(exc, OSError) and "truncated" in text:
        return f"truncated or incomplete image file ({text})"
    return f"corrupt or unreadable image ({type(exc).__name__}: {text})"
