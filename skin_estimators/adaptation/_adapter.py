"""DomainAdapter: the step between frozen features and the classifier that a new clinic's
unlabelled photos adapt."""

import hashlib
import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..exceptions import AdaptationError
from ..utils._model_state import stored_in_model_files
from ..utils._param_validation import Interval, StrOptions, validate_constraints
from ._adapter_state import ADAPTER_FIELDS, check_adapter
from ._methods import METHODS, fit_alignment

__all__ = ["MIN_TARGET", "DomainAdapter"]

#: The fewest target photos an adaptation accepts. The alignments estimate a mean and a
#: spread per feature (and, for CORAL and the subspace, a covariance) from the target photos;
#: a mean from ``n`` photos is off by ``1 / sqrt(n)`` standard deviations, a sixth of one at
#: 40 photos, below which the estimate moves more from one set of photos to the next than
#: the shift between clinics it corrects.
MIN_TARGET = 40


def row_keys(X):
    """One SHA-256 per row of a 2-D float array (its float32 bytes): the rows' identity."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    return [hashlib.sha256(row.tobytes()).hexdigest() for row in X]


def list_digest(keys):
    """SHA-256 of the sorted keys: the same for any order of the same items."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


@stored_in_model_files
class DomainAdapter(TransformerMixin, BaseEstimator):
    """Aligns a new clinic's features to the training ones, fitted on its unlabelled photos.

    It sits between the frozen feature extractor and the classifier
    (``PretrainedFeatures -> DomainAdapter -> StandardScaler -> LogisticRegression``). Fitted
    on the training images, it keeps their features (and labels when given) and passes
    features through unchanged: a model with an unadapted ``DomainAdapter`` predicts exactly
    as the same model without it. :meth:`adapt` then fits an alignment (see ``method``) on
    the kept training features and a new clinic's features, no label of the clinic being
    used, and returns the training features as the steps after it must be refitted on
    (:func:`~skin_estimators.adaptation.adapt_model` does the refit, trust layer included).
    From then on ``transform`` maps the clinic's features affinely,
    ``((x - offset_) / scale_) @ components_``.

    Adapting again starts from the kept training features: it replaces the previous
    adaptation, it never stacks on it. The target rows are put in the order of their
    SHA-256 before fitting, so any order of the same photos gives the same adapter.

    Its ``fit`` learns nothing that ``transform`` uses (``_fit_learns_from_data = False``):
    a cross-validation fits it once and shares it between the folds.

    Parameters
    ----------
    method : {"standardize", "coral", "subspace", "ot"}, default="standardize"
        The alignment (``_methods.py``): each domain standardised on its own statistics;
        CORAL; subspace alignment; an optimal-transport mapping of the training features
        onto the clinic's.
    n_components : int or None, default=None
        The subspace dimension of ``method="subspace"`` (None: half the smaller domain).
    min_target : int, default=40
        The fewest target photos :meth:`adapt` accepts (see ``MIN_TARGET``).

    Attributes
    ----------
    n_features_in_, n_features_out_ : int
    source_features_ : ndarray of shape (n_source, n_features)
        The training features (float32).
    source_labels_ : ndarray of shape (n_source,) or None
        Their labels, when ``fit`` was given them.
    offset_, scale_ : ndarray of shape (n_features,) or None
        The target map (None until adapted).
    components_ : ndarray of shape (n_features, n_features_out) or None
        Its projection (``method="subspace"``), else None.
    n_target_ : int
        How many photos it was adapted to (0: not adapted).
    target_digest_ : str or None
        SHA-256 of the sorted identities of those photos (their content hashes when adapted
        from files, see :func:`~skin_estimators.adaptation.adapt_model`).

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators.adaptation import DomainAdapter
    >>> rng = np.random.RandomState(0)
    >>> source, target = rng.randn(60, 5), 3 + 2 * rng.randn(50, 5)
    >>> adapter = DomainAdapter().fit(source)
    >>> bool(np.allclose(adapter.transform(target), target))
    True
    >>> adapted_source = adapter.adapt(target)
    >>> bool(abs(adapter.transform(target).mean()) < 1e-6), adapter.n_target_
    (True, 50)
    """

    #: ``fit`` keeps the training features for a later adaptation; its transform does not
    #: depend on them, so a cross-validation fits it once and shares it.
    _fit_learns_from_data = False

    #: What a safe model file keeps of it, and the check of what a file gives it.
    _model_file_fields = ADAPTER_FIELDS
    _model_file_required = ("n_features_in_", "source_features_", "n_target_")
    _check_model_file_state = check_adapter

    _parameter_constraints = {
        "method": [StrOptions(set(METHODS))],
        "n_components": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "min_target": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, method="standardize", n_components=None, min_target=MIN_TARGET):
        self.method = method
        self.n_components = n_components
        self.min_target = min_target

    @staticmethod
    def _features(X, where):
        X = np.asarray(X)
        if X.ndim != 2 or X.dtype.kind not in "fiu":
            raise ValueError(f"DomainAdapter: {where} must be a 2-D array of features "
                             f"(n_samples, n_features), got shape {X.shape}, dtype {X.dtype}.")
        if not np.isfinite(X).all():
            raise ValueError(f"DomainAdapter: {where} holds NaN or infinite values; "
                             "the feature extractor gave no usable features for them.")
        return X

    def fit(self, X, y=None):
        """Keep the training features (and labels); the transform stays the identity.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        validate_constraints(self)
        X = self._features(X, "X")
        self.n_features_in_ = self.n_features_out_ = X.shape[1]
        self.source_features_ = np.asarray(X, dtype=np.float32).copy()
        self.source_labels_ = None if y is None else np.asarray(y).copy()
        self.offset_ = self.scale_ = self.components_ = None
        self.n_target_ = 0
        self.target_digest_ = None
        return self

    def adapt(self, X_target, keys=None):
        """Fit the alignment on the kept training features and ``X_target`` (no labels).

        Parameters
        ----------
        X_target : array-like of shape (n_target, n_features)
            The new clinic's features.
        keys : list of str, default=None
            One identity per target row (the photo's content hash); the rows are fitted in
            their sorted order and ``target_digest_`` is the digest of the sorted keys.
            None: the hashes of the rows themselves.

        Returns
        -------
        ndarray of shape (n_source, n_features_out)
            The training features as the steps after this one must be refitted on.

        Raises
        ------
        AdaptationError
            With fewer than ``min_target`` photos.
        """
        check_is_fitted(self, "source_features_")
        validate_constraints(self)
        X_target = self._features(X_target, "X_target")
        n = len(X_target)
        if n < self.min_target:
            raise AdaptationError(
                f"adapting needs at least {self.min_target} photos of the new clinic, got {n}: "
                "the per-feature statistics it aligns are too noisy from fewer photos "
                f"(a mean from n photos is off by 1/sqrt(n) standard deviations).")
        if X_target.shape[1] != self.n_features_in_:
            raise ValueError(f"DomainAdapter: X_target has {X_target.shape[1]} features, the "
                             f"training features {self.n_features_in_}.")
        keys = row_keys(X_target) if keys is None else [str(k) for k in keys]
        if len(keys) != n:
            raise ValueError(f"DomainAdapter: {len(keys)} keys for {n} target rows.")
        order = sorted(range(n), key=lambda i: keys[i])
        target = np.asarray(X_target, dtype=np.float64)[order]
        source = self.source_features_.astype(np.float64)
        offset, scale, components, adapted = fit_alignment(
            self.method, source, target, self.n_components)
        scale = np.where(np.asarray(scale) > 0, scale, 1.0)
        self.offset_ = np.asarray(offset, dtype=np.float64)
        self.scale_ = np.asarray(scale, dtype=np.float64)
        self.components_ = None if components is None else np.asarray(components, np.float64)
        self.n_features_out_ = (self.n_features_in_ if components is None
                                else self.components_.shape[1])
        self.n_target_ = int(n)
        self.target_digest_ = list_digest(keys)
        return np.asarray(adapted, dtype=np.float64)

    def transform(self, X):
        """The identity before :meth:`adapt`, the clinic's affine map after it."""
        check_is_fitted(self, "source_features_")
        X = self._features(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"DomainAdapter: X has {X.shape[1]} features, it was fitted on "
                             f"{self.n_features_in_}.")
        if not self.n_target_:
            return X
        out = (np.asarray(X, dtype=np.float64) - self.offset_) / self.scale_
        return out if self.components_ is None else out @ self.components_

    def get_feature_names_out(self, input_features=None):
        """``adapted0, adapted1, ...``."""
        check_is_fitted(self, "source_features_")
        return np.asarray([f"adapted{i}" for i in range(self.n_features_out_)], dtype=object)
