"""ScatteringTransformer: fixed scattering coefficients as features for any scikit-learn model."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..networks import Scattering2D
from ..utils._device import resolve_device
from ..utils._param_validation import (
    DEVICE,
    Options,
    Satisfies,
    is_int,
    positive_int,
    validate_constraints,
)
from ..utils._validation import check_channels_first_images

__all__ = ["ScatteringTransformer"]


def _pool_size(pooling):
    """``(height, width)`` of a ``pooling`` parameter: None, an int >= 1 or a pair of them.

    None for None, and for a value that is none of these (refused by the constraints).
    """
    if is_int(pooling):
        pooling = (pooling, pooling)
    if isinstance(pooling, tuple | list) and len(pooling) == 2 and all(
            is_int(p) and p >= 1 for p in pooling):
        return tuple(int(p) for p in pooling)
    return None


class ScatteringTransformer(TransformerMixin, BaseEstimator):
    """Scattering transform with kymatio's fixed Morlet wavelets, as flat feature vectors.

    Takes the ``float32 (n_samples, C, H, W)`` images of :class:`ChannelNormalizer` and
    returns ``(n_samples, C * K * H' * W')`` features flattened in kymatio's order
    (input channel, coefficient, y, x), with ``K = 1 + J L + L**2 J (J-1) / 2``
    coefficients per channel and ``H' = H // 2**J``. The values are those of kymatio
    0.3.0's ``Scattering2D(J, (H, W), L, max_order)``, computed several times faster.

    Parameters
    ----------
    J : int, default=2
        Scales; the coefficients are subsampled by ``2**J``.
    L : int, default=8
        Orientations per scale.
    max_order : {1, 2}, default=2
        Highest scattering order.
    pooling : None, int or (int, int), default=None
        Average each coefficient map down to this grid (``1``: one mean per coefficient
        and channel, ``C * K`` features); ``None`` keeps the ``H' x W'`` maps.
    batch_size : int, default=8
        Images per forward pass (bounds the memory used).
    device : "auto", "cpu", "cuda" or torch.device, default="cpu"
        Where to compute.

    Attributes
    ----------
    n_features_in_ : int
        Channels of the images seen in ``fit``.
    input_shape_ : tuple
        (C, H, W) seen in ``fit``; ``transform`` needs the same.
    n_coefficients_ : int
        K, coefficients per input channel.
    output_shape_ : tuple
        (C * K, h, w) of the (pooled) coefficients before flattening.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import ScatteringTransformer
    >>> X = np.random.RandomState(0).randn(2, 3, 32, 32).astype("float32")
    >>> ScatteringTransformer(J=2).fit_transform(X).shape
    (2, 15552)
    >>> ScatteringTransformer(J=2, pooling=1).fit_transform(X).shape
    (2, 243)
    """

    def __init__(self, J=2, L=8, max_order=2, pooling=None, batch_size=8, device="cpu"):
        self.J = J
        self.L = L
        self.max_order = max_order
        self.pooling = pooling
        self.batch_size = batch_size
        self.device = device

    _parameter_constraints = {
        "J": [positive_int()],
        "L": [positive_int()],
        "max_order": [Options(numbers.Integral, [1, 2], text="1 or 2")],
        "pooling": [None, Satisfies(lambda p: _pool_size(p) is not None,
                                    "a positive int or a pair of positive ints")],
        "batch_size": [positive_int()],
        "device": [DEVICE],
    }

    def _check_images(self, X, reset):
        arr = check_channels_first_images(X, "ScatteringTransformer")
        arr = validate_data(self, arr, dtype=np.float32, allow_nd=True, reset=reset)
        if reset:
            self.input_shape_ = tuple(arr.shape[1:])
        elif tuple(arr.shape[1:]) != self.input_shape_:
            c, h, w = self.input_shape_
            raise ValueError(
                f"ScatteringTransformer was fitted on images of shape ({c}, {h}, {w}), got "
                f"{tuple(arr.shape[1:])}; load them with ImageLoader(size=({h}, {w}))."
            )
        return np.ascontiguousarray(arr)

    def fit(self, X, y=None):
        """Check the images and build the transform for their size.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W)
            Normalised images.
        y : ignored

        Returns
        -------
        self
        """
        validate_constraints(self)
        pool = _pool_size(self.pooling)
        X = self._check_images(X, reset=True)
        c, h, w = self.input_shape_
        if min(h, w) < 2**self.J:
            raise ValueError(
                f"ScatteringTransformer with J={self.J} needs images of at least "
                f"{2**self.J}x{2**self.J} pixels, got {h}x{w}."
            )
        self.scattering_ = Scattering2D(
            self.J, (h, w), self.L, self.max_order, learnable=False
        )
        self.n_coefficients_ = self.scattering_.n_coefficients
        spatial = pool if pool is not None else self.scattering_.output_shape
        self.output_shape_ = (c * self.n_coefficients_, *spatial)
        return self

    def transform(self, X):
        """Scattering coefficients of each image, flattened.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W)
            Images of the size seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, ``prod(output_shape_)``), float32
        """
        check_is_fitted(self)
        validate_constraints(self)
        X = self._check_images(X, reset=False)
        device = resolve_device(self.device)
        scattering = self.scattering_.to(device)
        pool = _pool_size(self.pooling)
        out = np.empty((len(X), int(np.prod(self.output_shape_))), np.float32)
        with torch.no_grad():
            for start in range(0, len(X), self.batch_size):
                batch = torch.from_numpy(X[start : start + self.batch_size]).to(device)
                coefficients = scattering(batch)
                if pool is not None:
                    coefficients = torch.nn.functional.adaptive_avg_pool2d(coefficients, pool)
                out[start : start + len(batch)] = coefficients.flatten(1).cpu().numpy()
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
