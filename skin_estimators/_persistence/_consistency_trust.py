"""Load-time consistency of a stored :class:`~skin_estimators.TrustedClassifier`.

Its fitted state is numbers and arrays: the conformal quantiles, the calibration map's
parameters, the out-of-scope threshold and the Mahalanobis model. Each is checked for its
type, shape and range against the classes and the parameters, so that a crafted file cannot
make sets or flags that the fitted model would never give (the values were checked to be
finite as they were decoded).
"""

import numbers

import numpy as np

from ._codec import InconsistentModelError as _Error

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
    kind = est.out_of_scope
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
