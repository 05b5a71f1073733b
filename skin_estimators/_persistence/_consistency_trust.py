"""Load-time consistency of a stored :class:`~skin_estimators.TrustedClassifier`.

Its fitted state is numbers and arrays: the conformal quantiles, the calibration map's
parameters, the out-of-scope threshold and the Mahalanobis model; with cross-conformal sets
also the fold models (nested estimators, built and checked as such) and their out-of-fold
scores, folds and labels. Each is checked for its type, shape and range against the classes
and the parameters, so that a crafted file cannot make sets or flags that the fitted model
would never give (the values were checked to be finite as they were decoded).
"""

import numbers

import numpy as np

from ._codec import InconsistentModelError as _Error
from ._consistency_negatives import check_negatives_model

__all__ = ["check_trusted"]


def _floats(value, where, shape):
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise _Error(f"{where} is not an array of floats")
    if value.shape != tuple(shape):
        raise _Error(f"{where} has shape {value.shape}; {tuple(shape)} expected")
    return value


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _Error(f"{where} = {value!r:.40} is not a number")
    return float(value)


def check_trusted(est, where):
    """The fitted attributes of a TrustedClassifier against each other and its parameters."""
    from ._consistency import check_classes

    n = check_classes(est.classes_, f"{where}.classes_")
    quantiles = _floats(est.quantiles_, f"{where}.quantiles_", (n,))
    if ((quantiles < 0) | (quantiles > 1)).any():
        raise _Error(f"{where}.quantiles_ lie outside [0, 1]; a conformal threshold on one "
                     "minus a probability does not")
    shapes = {"temperature": (1,), "sigmoid": (1 if n == 2 else n, 2), None: (0,)}
    if est.calibration not in shapes:
        raise _Error(f"{where} parameter calibration = {est.calibration!r:.40} is not one "
                     "this version knows")
    params = _floats(est.calibration_params_, f"{where}.calibration_params_",
                     shapes[est.calibration])
    if est.calibration == "temperature" and not params[0] > 0:
        raise _Error(f"{where}.calibration_params_: the inverse temperature is not positive")
    inner = getattr(est, "estimator_", None)
    if inner is not None and not np.array_equal(np.asarray(inner.classes_), est.classes_):
        raise _Error(f"{where}.classes_ differ from those of the estimator it wraps")
    _check_folds(est, inner, n, where)
    kind = est.out_of_scope
    check_negatives_model(est, kind, n, where)
    if kind is None:
        if est.oos_threshold_ is not None:
            raise _Error(f"{where} has an out-of-scope threshold but out_of_scope=None")
        return
    _number(est.oos_threshold_, f"{where}.oos_threshold_")
    if kind == "knn":
        ref = est.oos_reference_
        if not (isinstance(ref, np.ndarray) and ref.dtype.kind == "f" and ref.ndim == 2
                and len(ref)):
            raise _Error(f"{where}.oos_reference_ is not a table of training feature vectors")
        k = est.oos_neighbors_
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise _Error(f"{where}.oos_neighbors_ = {k!r:.40} is not a positive integer")
        return
    if kind != "mahalanobis":
        return
    means = est.oos_means_
    if not (isinstance(means, np.ndarray) and means.ndim == 2 and means.shape[0] == n):
        raise _Error(f"{where}.oos_means_ is not one feature vector per class")
    d = means.shape[1]
    basis = est.oos_basis_
    if not (isinstance(basis, np.ndarray) and basis.ndim == 2 and basis.shape[1] == d):
        raise _Error(f"{where}.oos_basis_ is not a set of directions of the {d} features")
    variances = _floats(est.oos_variances_, f"{where}.oos_variances_", (basis.shape[0],))
    if (variances < 0).any():
        raise _Error(f"{where}.oos_variances_ holds a negative variance")
    if not _number(est.oos_floor_, f"{where}.oos_floor_") > 0:
        raise _Error(f"{where}.oos_floor_ is not a positive variance")


def _ints(value, where, shape, high):
    if not (isinstance(value, np.ndarray) and value.dtype.kind in "iu"):
        raise _Error(f"{where} is not an array of integers")
    if value.shape != tuple(shape):
        raise _Error(f"{where} has shape {value.shape}; {tuple(shape)} expected")
    if len(value) and (value.min() < 0 or value.max() >= high):
        raise _Error(f"{where} holds an index outside [0, {high})")
    return value


def _check_folds(est, inner, n_classes, where):
    """The shared leading steps and, for cross-conformal sets, the fold models and scores."""
    n_frozen = getattr(est, "frozen_steps_", 0)
    if n_frozen is None:
        n_frozen = 0
    n_steps = len(inner.steps) if hasattr(inner, "steps") else 1
    if (isinstance(n_frozen, bool) or not isinstance(n_frozen, numbers.Integral)
            or not 0 <= n_frozen < n_steps):
        raise _Error(f"{where}.frozen_steps_ = {n_frozen!r:.40} is not a number of leading "
                     f"steps of the {n_steps}-step estimator it wraps")
    parts = ("estimators_", "calibration_scores_", "calibration_folds_", "calibration_labels_")
    conformal = getattr(est, "conformal", "split")
    if conformal not in ("split", "cross"):
        raise _Error(f"{where} parameter conformal = {conformal!r:.40} is not one this "
                     "version knows")
    if conformal == "split":
        if any(getattr(est, name, None) is not None for name in parts):
            raise _Error(f"{where} holds cross-conformal fold models but conformal='split'")
        return
    folds = getattr(est, "estimators_", None)
    if not isinstance(folds, list) or not folds:
        raise _Error(f"{where} has conformal='cross' but no fold models")
    first = inner.steps[n_frozen][1] if hasattr(inner, "steps") else inner
    width = getattr(first, "n_features_in_", None)
    for j, model in enumerate(folds):
        classes = getattr(model, "classes_", None)
        if classes is None or not hasattr(model, "predict_proba") or not np.isin(
                np.asarray(classes), est.classes_).all():
            raise _Error(f"{where}.estimators_[{j}] is not a classifier of its classes")
        seen = getattr(model, "n_features_in_", None)
        if width is not None and seen is not None and seen != width:
            raise _Error(f"{where}.estimators_[{j}] takes {seen} features; the steps it "
                         f"follows give {width}")
    scores = est.calibration_scores_
    if not (isinstance(scores, np.ndarray) and scores.ndim == 1 and len(scores)):
        raise _Error(f"{where}.calibration_scores_ is not an array of out-of-fold scores")
    scores = _floats(scores, f"{where}.calibration_scores_", scores.shape)
    if ((scores < 0) | (scores > 1)).any():
        raise _Error(f"{where}.calibration_scores_ lie outside [0, 1]")
    _ints(est.calibration_folds_, f"{where}.calibration_folds_", scores.shape, len(folds))
    _ints(est.calibration_labels_, f"{where}.calibration_labels_", scores.shape, n_classes)
