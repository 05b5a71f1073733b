"""ChannelNormalizer: uint8 RGB images to normalised float32 tensors (n, 3, H, W)."""

import warnings

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._normalization import NORMALIZATION_PRESETS as _PRESETS
from ..utils._model_state import stored_in_model_files
from ..utils._param_validation import Satisfies, StrOptions, is_real, validate_constraints
from ._stored_state import NORMALIZER_FIELDS, check_normalizer_state

__all__ = ["NORMALIZATION_PRESETS", "ChannelNormalizer"]

#: Per-channel (R, G, B) mean and standard deviation, on the 0..1 scale, of known setups
#: (a read-only mapping: name -> ``{"mean": ..., "std": ...}``).
NORMALIZATION_PRESETS = _PRESETS

_PRESET_TEXT = f"a preset name {list(NORMALIZATION_PRESETS)}"

# Images per chunk when computing statistics or transforming floats: bounds the temporary
# float memory to a few tens of MB whatever the data set size.
_CHUNK_PIXELS = 2**22


@stored_in_model_files
class ChannelNormalizer(TransformerMixin, BaseEstimator):
    """Scale images to [0, 1], normalise each colour channel and put the channels first.

    Turns the ``uint8`` images ``(n_samples, height, width, 3)`` of :class:`ImageLoader`
    into the ``float32`` tensors ``(n_samples, 3, height, width)`` that the networks take:
    ``(x / 255 - mean) / std`` per channel. With ``mean=None`` and ``std=None`` the
    statistics are learned in ``fit`` from the training images only, so in a
    cross-validated pipeline the test fold never leaks into the training statistics.

    Which normalisation to use:

    - networks trained from scratch (``VanillaCNNClassifier``, scattering): learned
      (``mean=None, std=None``), or ``mean="study"`` to reproduce the reference study;
    - ImageNet-pretrained networks (torchvision's ResNet-50, most timm models):
      ``mean="imagenet"``;
    - Big Transfer (BiT, timm's ``resnetv2_*_bit``): ``mean="bit"``;
    - EfficientNet-Lite (``EfficientNetLiteClassifier``, ``PretrainedFeatures``):
      ``mean="efficientnet_lite"``.

    A pretrained network must see its pretraining statistics, not ones learned from new
    data.

    Parameters
    ----------
    mean : None, str or array-like of 3 floats, default=None
        Per-channel mean on the 0..1 scale. ``None``: learned in ``fit``. A name from
        :data:`NORMALIZATION_PRESETS` (``"study"``, ``"imagenet"``, ``"bit"``,
        ``"efficientnet_lite"``): that preset's
        mean, and also its std when ``std`` is None. A single float is used for all three
        channels.
    std : None, str or array-like of 3 floats, default=None
        Per-channel standard deviation on the 0..1 scale, > 0. ``None``: learned in ``fit``
        (the population standard deviation of all pixels of all training images), unless
        ``mean`` names a preset.

    Attributes
    ----------
    mean_ : ndarray of shape (3,)
        Channel means used by ``transform``.
    std_ : ndarray of shape (3,)
        Channel standard deviations used by ``transform``.
    n_features_in_ : int
        Number of channels: 3.

    See Also
    --------
    ImageLoader : produces the input of this step.

    Notes
    -----
    Input may be ``uint8`` (0..255), other integers in 0..255, or floats in [0, 1] (taken
    as already scaled, so not divided by 255); anything else (NaN, floats above 1, channels
    first, grey or RGBA images) is an error that says what to do. Learned statistics are
    computed exactly for integer images (from per-channel histograms) and in float64, in
    chunks, for float images, so memory stays low. A channel that is constant in the
    training images gets std 1 (with a warning), as in scikit-learn's ``StandardScaler``.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators.preprocessing import ChannelNormalizer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randint(0, 256, size=(4, 8, 8, 3)).astype(np.uint8)
    >>> norm = ChannelNormalizer().fit(X)
    >>> norm.mean_.round(3), norm.std_.round(3)
    (array([0.465, 0.494, 0.497]), array([0.282, 0.278, 0.283]))
    >>> Z = norm.transform(X)
    >>> Z.shape, Z.dtype
    ((4, 3, 8, 8), dtype('float32'))
    >>> np.allclose(Z.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    True
    >>> ChannelNormalizer(mean="imagenet").fit(X).std_
    array([0.229, 0.224, 0.225])
    >>> np.array_equal(norm.inverse_transform(Z), X)
    True
    """

    #: What a safe model file keeps of it, and the check of what a file gives it.
    _model_file_fields = NORMALIZER_FIELDS
    _model_file_required = ("mean_", "std_")
    _check_model_file_state = check_normalizer_state

    def __init__(self, mean=None, std=None):
        self.mean = mean
        self.std = std

    def fit(self, X, y=None):
        """Learn the channel statistics (those not given as parameters).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3)
            Training images, ``uint8`` or floats in [0, 1].
        y : None
            Ignored.

        Returns
        -------
        self : ChannelNormalizer
        """
        mean, std = self._fixed_stats()
        X = _check_images(X)
        if mean is None or std is None:
            learned_mean, learned_std = _channel_stats(X)
            if std is None:
                constant = learned_std <= 1e-12
                if constant.any():
                    warnings.warn(
                        f"ChannelNormalizer: channel(s) {np.flatnonzero(constant).tolist()} "
                        "are constant in the training images; using std 1 for them.",
                        UserWarning,
                        stacklevel=2,
                    )
                    learned_std = np.where(constant, 1.0, learned_std)
                std = learned_std
            if mean is None:
                mean = learned_mean
        self.mean_ = mean
        self.std_ = std
        self.n_features_in_ = 3
        return self

    def transform(self, X):
        """Normalise the images and put the channels first.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3)
            Images, ``uint8`` or floats in [0, 1]; any height and width.

        Returns
        -------
        X_out : ndarray of shape (n_samples, 3, height, width), dtype float32
            C-contiguous.
        """
        check_is_fitted(self)
        X = _check_images(X)
        n, h, w, _ = X.shape
        out = np.empty((n, 3, h, w), dtype=np.float32)
        if X.dtype.kind in "ui":
            # Only 256 possible values per channel: look the exact float64 result up in a
            # table instead of computing it per pixel.
            values = np.arange(256) / 255.0
            table = (values[None, :] - self.mean_[:, None]) / self.std_[:, None]
            table = table.astype(np.float32)
            X = X.astype(np.uint8, copy=False)
            # One image plane at a time: contiguous writes, 2-3x faster than whole channels.
            for i in range(n):
                for c in range(3):
                    np.take(table[c], X[i, :, :, c], out=out[i, c], mode="clip")
        else:
            mean = self.mean_.astype(np.float32)[:, None, None]
            scale = (1.0 / self.std_).astype(np.float32)[:, None, None]
            for i in range(n):
                out[i] = (X[i].transpose(2, 0, 1).astype(np.float32) - mean) * scale
        return out

    def inverse_transform(self, X):
        """Undo ``transform``: back to ``uint8`` images (n_samples, height, width, 3).

        Useful to show images, e.g. under explanation heat maps. Values are rounded and
        clipped to 0..255, so images that came from ``uint8`` come back exactly.

        Parameters
        ----------
        X : array-like of shape (n_samples, 3, height, width)
            Normalised images.

        Returns
        -------
        images : ndarray of shape (n_samples, height, width, 3), dtype uint8
        """
        check_is_fitted(self)
        X = np.asarray(X)
        if X.ndim != 4 or X.shape[1] != 3 or X.dtype.kind not in "fiu":
            raise ValueError(
                "ChannelNormalizer.inverse_transform expects normalised images "
                f"(n_samples, 3, height, width) as transform returns, got an array of shape "
                f"{X.shape} and dtype {X.dtype}."
            )
        n, _, h, w = X.shape
        out = np.empty((n, h, w, 3), dtype=np.uint8)
        mean = self.mean_[:, None, None]
        std = self.std_[:, None, None]
        for i in range(n):
            img = (X[i] * std + mean) * 255.0
            out[i] = np.clip(np.rint(img), 0, 255).transpose(1, 2, 0)
        return out

    _parameter_constraints = {
        "mean": [None, StrOptions(NORMALIZATION_PRESETS, text=_PRESET_TEXT),
                 Satisfies(lambda v: _as_stat(v) is not None,
                           "3 finite numbers (R, G, B) on the 0..1 scale")],
        "std": [None, StrOptions(NORMALIZATION_PRESETS, text=_PRESET_TEXT),
                Satisfies(lambda v: _as_stat(v) is not None and (_as_stat(v) > 0).all(),
                          "3 finite numbers > 0 (R, G, B) on the 0..1 scale")],
    }

    @property
    def _fit_learns_from_data(self):
        # With both statistics given (a preset), fit learns nothing: a cross-validation may
        # fit it once and share it between the folds (see TrustedClassifier).
        mean, std = self._fixed_stats()
        return mean is None or std is None

    def _fixed_stats(self):
        """The mean and std given as parameters, as float64 (3,) arrays, or None."""
        validate_constraints(self)
        mean = _parse_stat(self.mean, "mean")
        std = _parse_stat(self.std, "std")
        if std is None and isinstance(self.mean, str):
            std = _parse_stat(self.mean, "std")
        return mean, std

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _is_bool(value):
    return isinstance(value, bool | np.bool_)


def _as_stat(value):
    """A number or 3 finite numbers as a float64 (3,) array, else None."""
    if is_real(value):
        value = [value] * 3
    if isinstance(value, str | bytes | dict) or _is_bool(value):
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (3,) and np.isfinite(arr).all() else None


def _parse_stat(value, which):
    """A valid ``mean`` or ``std`` parameter as a float64 (3,) array (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return np.array(NORMALIZATION_PRESETS[value][which], dtype=np.float64)
    return _as_stat(value)


def _check_images(X):
    """Return X as an array (n, H, W, 3) of uint8/integers in 0..255 or floats in [0, 1]."""
    if issparse(X):
        raise TypeError(
            "ChannelNormalizer takes dense image arrays; sparse input is not supported."
        )
    if not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError(
            "Complex data not supported: ChannelNormalizer takes uint8 or float images."
        )
    shape = X.shape
    if X.ndim != 4:
        hint = {
            2: " A 2-D table of features is not images.",
            3: " For a single image use X[None]; grey images go through ImageLoader first.",
        }.get(X.ndim, "")
        raise ValueError(
            "ChannelNormalizer expects images as a 4-D array (n_samples, height, width, 3), "
            f"as ImageLoader returns; got an array of shape {shape}.{hint}"
        )
    if shape[3] != 3:
        if shape[1] == 3:
            hint = (
                " It looks channels-first (n, 3, H, W); ChannelNormalizer takes "
                "channels-last images, e.g. X.transpose(0, 2, 3, 1)."
            )
        else:
            hint = " Load the images with ImageLoader, which converts grey and RGBA to RGB."
        raise ValueError(
            f"ChannelNormalizer expects RGB images (n_samples, height, width, 3), got shape "
            f"{shape}.{hint}"
        )
    if min(shape[:3]) == 0:
        raise ValueError(f"ChannelNormalizer got an empty array of shape {shape}.")
    kind = X.dtype.kind
    if kind == "f":
        if not np.isfinite(X).all():
            raise ValueError("ChannelNormalizer: the images contain NaN or infinity.")
        lo, hi = X.min(), X.max()
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(
                f"ChannelNormalizer takes float images in [0, 1], got values in "
                f"[{lo:g}, {hi:g}]. For 0..255 images pass uint8 (X.astype(np.uint8)) or "
                "divide by 255."
            )
    elif kind in "ui":
        if X.dtype != np.uint8 and (X.min() < 0 or X.max() > 255):
            raise ValueError(
                f"ChannelNormalizer takes integer images in 0..255, got values in "
                f"[{X.min()}, {X.max()}]."
            )
    else:
        raise ValueError(
            f"ChannelNormalizer takes uint8 images (0..255) or float images (0..1), got an "
            f"array of dtype {X.dtype}."
        )
    return X


def _channel_stats(X):
    """Per-channel mean and population std on the 0..1 scale, in float64, chunk by chunk."""
    n, h, w, _ = X.shape
    step = max(1, _CHUNK_PIXELS // (h * w))
    if X.dtype.kind in "ui":
        # Exact: count how often each of the 256 values occurs in each channel.
        counts = np.zeros((3, 256), dtype=np.int64)
        for start in range(0, n, step):
            chunk = X[start : start + step].astype(np.uint8, copy=False)
            for c in range(3):
                counts[c] += np.bincount(chunk[..., c].ravel(), minlength=256)
        values = np.arange(256) / 255.0
        total = counts.sum(axis=1)
        mean = counts @ values / total
        var = (counts * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / total
        return mean, np.sqrt(var)
    # Floats: combine chunk statistics with Chan et al.'s parallel update (no cancellation).
    count, mean, m2 = 0, np.zeros(3), np.zeros(3)
    for start in range(0, n, step):
        chunk = X[start : start + step].reshape(-1, 3).astype(np.float64)
        k = len(chunk)
        c_mean = chunk.mean(axis=0)
        c_m2 = ((chunk - c_mean) ** 2).sum(axis=0)
        delta = c_mean - mean
        total = count + k
        mean = mean + delta * k / total
        m2 = m2 + c_m2 + delta**2 * count * k / total
        count = total
    return mean, np.sqrt(m2 / count)
