"""A process-wide cache of features that never change: scattering with frozen wavelets, frozen
networks' pooled features.

With fixed filters the scattering of an image never changes, so ``ScatteringClassifier(
learnable=False)`` computes it once per image (and once per mirrored image) and trains only
the classifier on top. Entries are keyed on a hash of the image's bytes and on everything
that determines the transform (J, L, order, size and the wavelets' parameters), so the folds
of a cross-validation or the candidates of a grid search reuse each other's coefficients.
The cache lives in this module, never in an estimator: fitted models pickle without it.
"""

import hashlib

import numpy as np

from ._array_cache import ArrayCache

__all__ = [
    "cached_features",
    "clear_feature_cache",
    "feature_cache_info",
    "scattering_features",
    "set_feature_cache_max_bytes",
]

#: Default budget: 2 GiB, about 430 images' coefficients at 400x400 (J=2, L=8, float16).
DEFAULT_MAX_BYTES = 2 * 1024**3

# The same byte-bounded LRU as the image cache, with its own budget.
_CACHE = ArrayCache(DEFAULT_MAX_BYTES)

#: Coefficients are kept as float16: at most 5e-4 of each channel's range lost, which
#: BatchNorm and SGD do not notice, for half the memory.
STORAGE_DTYPE = np.float16


def _signature(scattering):
    """Everything besides the image that determines the coefficients."""
    digest = hashlib.blake2b(digest_size=16)
    for name in ("theta", "sigma", "xi", "slant"):
        digest.update(getattr(scattering.filters, name).detach().cpu().numpy().tobytes())
    return (scattering.J, scattering.L, scattering.max_order, scattering.shape, digest.hexdigest())


def _digest(image):
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest()


def scattering_features(scattering, X, mirrored=False, device="cpu", batch_size=4):
    """Scattering coefficients of the images X (n, C, H, W), through the cache.

    Parameters
    ----------
    scattering : skin_estimators.networks.Scattering2D
        A transform with frozen wavelets.
    X : ndarray of shape (n, C, H, W), float32
        The images.
    mirrored : bool, default=False
        Also return the coefficients of the horizontally mirrored images.
    device : str or torch.device, default="cpu"
        Where to compute the coefficients that are not cached yet.
    batch_size : int, default=4
        Images per forward pass.

    Returns
    -------
    ndarray of shape (n, C*K, H', W'), or (n, 2, C*K, H', W') with ``mirrored=True``
    (index 1 of the second axis: the mirrored image), dtype float16.
    """
    import torch

    scattering = scattering.to(device)

    def compute(images):
        with torch.no_grad():
            out = scattering(torch.from_numpy(images).to(device))
        return out.cpu().numpy().astype(STORAGE_DTYPE)

    return cached_features(_signature(scattering), X, compute, mirrored, batch_size)


def cached_features(signature, X, compute, mirrored=False, batch_size=4):
    """Features of the images X (n, C, H, W) that are deterministic, through the cache.

    ``compute(images)`` maps a batch ``(b, C, H, W)`` to ``(b, ...)`` features; only images
    not yet cached under ``signature`` (everything besides the image that determines the
    features: transform, weights, sizes) reach it. Shared by the scattering coefficients and
    the pretrained networks' pooled features.

    Returns
    -------
    ndarray of shape (n, ...), or (n, 2, ...) with ``mirrored=True`` (index 1 of the second
    axis: the horizontally mirrored image).
    """
    digests = [_digest(image) for image in X]
    variants = (False, True) if mirrored else (False,)
    found, missing = {}, []
    for flip in variants:
        for i, digest in enumerate(digests):
            value = _CACHE.get((signature, digest, flip))
            if value is None:
                missing.append((i, flip))
            else:
                found[i, flip] = value
    for start in range(0, len(missing), batch_size):
        chunk = missing[start : start + batch_size]
        images = np.stack([X[i][..., ::-1] if flip else X[i] for i, flip in chunk])
        for (i, flip), value in zip(chunk, compute(images), strict=True):
            found[i, flip] = value
            _CACHE.put((signature, digests[i], flip), value)
    out = np.stack([np.stack([found[i, flip] for flip in variants]) for i in range(len(X))])
    return out if mirrored else out[:, 0]


def clear_feature_cache():
    """Empty the process-wide cache of frozen-filter scattering coefficients.

    Examples
    --------
    >>> from skin_estimators import clear_feature_cache, feature_cache_info
    >>> clear_feature_cache()
    >>> feature_cache_info().n_images
    0
    """
    _CACHE.clear()


def feature_cache_info():
    """Statistics of the cache: ``(hits, misses, n_images, nbytes, max_bytes)``.

    ``n_images`` counts stored coefficient arrays (an image and its mirror are two).

    Examples
    --------
    >>> from skin_estimators import feature_cache_info
    >>> info = feature_cache_info()
    >>> info.nbytes <= info.max_bytes
    True
    """
    return _CACHE.info()


def set_feature_cache_max_bytes(max_bytes):
    """Set the memory budget of the cache; returns the previous one (default 2 GiB).

    The least recently used coefficients are dropped beyond it; 0 keeps nothing (each
    ``fit`` then still computes every image's coefficients once, but folds no longer share
    them). Each process has its own cache.

    Examples
    --------
    >>> from skin_estimators import set_feature_cache_max_bytes
    >>> previous = set_feature_cache_max_bytes(1024**3)
    >>> _ = set_feature_cache_max_bytes(previous)
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative integer, got {max_bytes!r}.")
    return _CACHE.set_max_bytes(int(max_bytes))
