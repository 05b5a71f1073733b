"""Calibration maps fitted on out-of-fold probabilities with scikit-learn, stored as numbers.

scikit-learn's ``CalibratedClassifierCV`` fits the map (temperature scaling on the
log-probabilities, or one sigmoid per class in one-vs-rest, then renormalised) on a frozen
stand-in classifier whose "probabilities" are the out-of-fold ones. What it learned (the
inverse temperature, or each sigmoid's ``a`` and ``b``) is kept as plain numbers, so that the
safe model file can hold it, and applied with the same formulas as scikit-learn's.
"""

import math
import warnings

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["INVERSE_TEMPERATURE_RANGE", "apply_calibration", "fit_calibration"]

#: What scikit-learn adds to probabilities before taking their log for temperature scaling.
_EPS = 1e-12
#: The range of the inverse temperature: scikit-learn searches its log in [-10, 10]
#: (``sklearn.calibration._TemperatureScaling``), widened by a rounding margin. A model
#: file's value outside it was not fitted (a value near 0 makes every probability 1/n).
INVERSE_TEMPERATURE_RANGE = (math.exp(-10.0) * (1 - 1e-9), math.exp(10.0) * (1 + 1e-9))


class _GivenProbabilities(ClassifierMixin, BaseEstimator):
    """A classifier whose input already is its probabilities (the out-of-fold ones)."""

    def fit(self, X, y):
        self.classes_ = np.arange(np.asarray(X).shape[1])
        return self

    def predict_proba(self, X):
        return np.asarray(X, dtype=float)

    def predict(self, X):
        return np.asarray(X).argmax(axis=1)


def fit_calibration(proba, y_enc, method, sample_weight=None):
    """Fit ``method`` (``"temperature"``, ``"sigmoid"`` or None) on ``proba``; its parameters.

    Returns
    -------
    ndarray
        ``[beta]`` (the inverse temperature) for ``"temperature"``; ``(n_calibrators, 2)``
        rows of ``a, b`` for ``"sigmoid"`` (one row for two classes); empty for None.
    """
    if method is None:
        return np.zeros(0)
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    frozen = FrozenEstimator(_GivenProbabilities().fit(proba, y_enc))
    # A frozen estimator means one calibrator fitted on all the rows (ensemble="auto" is
    # False); the folds then only re-read the same probabilities, so two are enough.
    calibrated = CalibratedClassifierCV(frozen, method=method, cv=2)
    with warnings.catch_warnings():
        # The weights are meant for the calibration alone: the stand-in is already "fitted".
        warnings.filterwarnings("ignore", message=".*does not appear to accept sample_weight")
        calibrated.fit(proba, y_enc, sample_weight=sample_weight)
    calibrators = calibrated.calibrated_classifiers_[0].calibrators
    if method == "temperature":
        return np.array([float(calibrators[0].beta_)])
    return np.array([[float(c.a_), float(c.b_)] for c in calibrators])


def apply_calibration(proba, method, params):
    """Calibrated probabilities: ``proba`` mapped with parameters from :func:`fit_calibration`.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.7, 0.2, 0.1]])
    >>> apply_calibration(p, "temperature", np.array([1.0])).round(6).tolist()
    [[0.7, 0.2, 0.1]]
    """
    proba = np.asarray(proba, dtype=float)
    if method is None:
        return proba
    if method == "temperature":
        return softmax(params[0] * np.log(proba + _EPS), axis=1)
    n_classes = proba.shape[1]
    if n_classes == 2:
        positive = expit(-(params[0, 0] * proba[:, 1] + params[0, 1]))
        return np.column_stack([1.0 - positive, positive])
    out = expit(-(params[:, 0][None, :] * proba + params[:, 1][None, :]))
    total = out.sum(axis=1, keepdims=True)
    uniform = np.full_like(out, 1.0 / n_classes)
    return np.divide(out, total, out=uniform, where=total != 0)
