"""Training-time augmentation of image batches, applied on the training device.

Augmentations act on whole mini-batches of normalised images ``(n, C, H, W)`` already on the
device, with an independent random draw per image from torch's random number generator (so a
seeded ``fit`` is reproducible). They are never applied at predict time. Each operation is a
module-level function so that estimators holding them stay picklable.
"""

import math

import torch
import torch.nn.functional as F


def _per_sample(x, p=0.5):
    """Boolean mask (n, 1, 1, 1): which images of the batch an operation touches."""
    return (torch.rand(x.shape[0], device=x.device) < p).view(-1, 1, 1, 1)


def hflip(x):
    """Mirror each image left-right with probability 1/2 (the estimators' default augmentation)."""
    return torch.where(_per_sample(x), x.flip(-1), x)


def vflip(x):
    """Mirror each image top-bottom with probability 1/2."""
    return torch.where(_per_sample(x), x.flip(-2), x)


def rot90(x):
    """Rotate each image by a random multiple of 90 degrees (square images only)."""
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"augment 'rot90' needs square images, got {x.shape[-2]}x{x.shape[-1]}; "
            "use ImageLoader(size=N) with one number, or drop 'rot90' from augment."
        )
    k = torch.randint(0, 4, (x.shape[0],), device=x.device)
    out = x.clone()
    for turns in range(1, 4):
        idx = (k == turns).nonzero(as_tuple=True)[0]
        if idx.numel():
            out[idx] = torch.rot90(x[idx], turns, dims=(-2, -1))
    return out


def affine(x, max_degrees=20.0, scale=(0.9, 1.1), max_shift=0.05):
    """Small random rotation, zoom and shift of each image, with mirrored borders.

    Lesions have no preferred orientation and photographs are taken at varying distances;
    reflection padding avoids the black corners that a zero fill would teach the network.
    """
    n = x.shape[0]
    dev = x.device
    angle = (torch.rand(n, device=dev) * 2 - 1) * math.radians(max_degrees)
    zoom = torch.empty(n, device=dev).uniform_(*scale)
    shift = (torch.rand(n, 2, device=dev) * 2 - 1) * max_shift * 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def resized_crop(x, scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3)):
    """A random crop of each image, resized back to the image's size (Inception-style).

    The crop covers a random fraction of the area in ``scale`` with an aspect in ``ratio``
    (log-uniform), at a random position inside the image. The inputs are already at the
    common pixel scale, so a crop zooms in by at most ``1 / sqrt(scale[0])`` (1.7x): the
    network sees the lesion at varying sizes and positions without a new border.
    """
    n = x.shape[0]
    dev = x.device
    area = torch.empty(n, device=dev).uniform_(*scale)
    log_r = torch.empty(n, device=dev).uniform_(math.log(ratio[0]), math.log(ratio[1]))
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)  # fractions of the width and height
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (torch.rand(n, device=dev) * 2 - 1) * (1 - w)  # centre, in [-1, 1] coordinates
    cy = (torch.rand(n, device=dev) * 2 - 1) * (1 - h)
    zero = torch.zeros(n, device=dev)
    theta = torch.stack(
        [torch.stack([w, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def color(x, brightness=0.1, contrast=0.1):
    """Random brightness and contrast change per image (on normalised values).

    Different cameras and lighting shift the colour statistics of clinical photographs; a
    small jitter keeps the network from relying on them.
    """
    n = x.shape[0]
    shape = (n,) + (1,) * (x.dim() - 1)
    gain = 1 + (torch.rand(shape, device=x.device, dtype=x.dtype) * 2 - 1) * contrast
    offset = (torch.rand(shape, device=x.device, dtype=x.dtype) * 2 - 1) * brightness
    mean = x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
    return (x - mean) * gain + mean + offset


AUGMENTATIONS = {
    "hflip": hflip,
    "vflip": vflip,
    "rot90": rot90,
    "affine": affine,
    "resized_crop": resized_crop,
    "color": color,
}


def _pair(value, low, high, high_closed=True):
    """Whether ``value`` is two numbers ``low < a <= b <= high`` (``< high`` if not closed)."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        return False
    top = b <= high if high_closed else b < high
    return math.isfinite(a) and math.isfinite(b) and low < a <= b and top


def _number(value, low, high):
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and low <= value <= high)


#: The parameters an augmentation takes in the dict form of ``augment``, with their checks.
AUGMENTATION_PARAMS = {
    "hflip": {}, "vflip": {}, "rot90": {},
    "affine": {
        "max_degrees": (lambda v: _number(v, 0, 180), "a number of degrees in [0, 180]"),
        "scale": (lambda v: _pair(v, 0, math.inf), "two zoom factors 0 < low <= high"),
        "max_shift": (lambda v: _number(v, 0, 1), "a fraction of the image in [0, 1]"),
    },
    "resized_crop": {
        "scale": (lambda v: _pair(v, 0, 1),
                  "two fractions of the image area 0 < low <= high <= 1"),
        "ratio": (lambda v: _pair(v, 0, math.inf), "two aspect ratios 0 < low <= high"),
    },
    "color": {
        "brightness": (lambda v: _number(v, 0, math.inf), "a number >= 0"),
        "contrast": (lambda v: _number(v, 0, 0.999999), "a number in [0, 1)"),
    },
}


def _check_params(name, params):
    """The parameters of augmentation ``name`` as keyword arguments, or ValueError naming it."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValueError(f"augment: the parameters of {name!r} must be a mapping "
                         f"{{parameter: value}}, got {params!r}")
    allowed = AUGMENTATION_PARAMS[name]
    for key, value in params.items():
        if key not in allowed:
            known = sorted(allowed) or "none"
            raise ValueError(f"augment: {name!r} has no parameter {key!r} (its parameters: "
                             f"{known})")
        check, text = allowed[key]
        if not check(value):
            raise ValueError(f"augment: {name}.{key} must be {text}, got {value!r}")
    return {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in params.items()}


class BatchAugmenter:
    """Apply a sequence of named augmentations to a batch, in order.

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`AUGMENTATIONS`.
    params : sequence of dict, optional
        Keyword arguments of each augmentation (checked by :func:`make_augmenter`).
    """

    def __init__(self, names, params=None):
        self.names = tuple(names)
        self.params = tuple(params) if params is not None else tuple({} for _ in self.names)

    def __call__(self, x):
        for name, params in zip(self.names, self.params, strict=True):
            x = AUGMENTATIONS[name](x, **params)
        return x

    def __repr__(self):
        if any(self.params):
            return f"BatchAugmenter({dict(zip(self.names, self.params, strict=True))!r})"
        return f"BatchAugmenter({list(self.names)!r})"


def make_augmenter(augment):
    """Turn the ``augment`` parameter of an estimator into a callable, or ``None``.

    ``augment`` may be ``None``/``"none"``/``False`` (no augmentation), one name or a list of
    names from :data:`AUGMENTATIONS`, a dict ``{name: {parameter: value}}`` (applied in its
    order; ``{"resized_crop": {"scale": [0.5, 1.0]}}``, parameters checked against
    :data:`AUGMENTATION_PARAMS`, ``None`` for the defaults), or any callable mapping a batch
    tensor to a batch tensor of the same shape.

    Examples
    --------
    >>> make_augmenter({"resized_crop": {"scale": [0.5, 1.0]}, "hflip": None})
    BatchAugmenter({'resized_crop': {'scale': (0.5, 1.0)}, 'hflip': {}})
    >>> make_augmenter({"resized_crop": {"scale": [2, 3]}})
    Traceback (most recent call last):
    ...
    ValueError: augment: resized_crop.scale must be two fractions of the image area 0 < low <= high <= 1, got [2, 3]
    """
    if augment is None or augment is False or (isinstance(augment, str) and augment == "none"):
        return None
    if callable(augment):
        return augment
    if isinstance(augment, dict):
        names, params = list(augment), list(augment.values())
    else:
        names = [augment] if isinstance(augment, str) else list(augment)
        params = [None] * len(names)
    unknown = [n for n in names if not isinstance(n, str) or n not in AUGMENTATIONS]
    if unknown or not names:
        raise ValueError(
            f"augment={augment!r} is not understood: unknown name(s) {unknown}. Use None, one of "
            f"{sorted(AUGMENTATIONS)}, a list of them, a dict {{name: {{parameter: value}}}}, "
            "or a callable taking and returning a batch tensor (n, C, H, W)."
        )
    return BatchAugmenter(names, [_check_params(n, p) for n, p in zip(names, params, strict=True)])
