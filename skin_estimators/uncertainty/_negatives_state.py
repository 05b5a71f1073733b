"""The model-file check of an out-of-scope score that learned from negatives.

``TrustedClassifier(out_of_scope="other_class" | "knn_other")`` keeps the "other" logistic
regression (``oos_other_coef_``, ``oos_other_intercept_``: one row per class, then "other")
and, for ``"knn_other"``, the in-scope reference of the k-nearest-neighbour distance and the
centres and scales of the sum (``oos_combination_``). Each is checked for its type and shape
against the classes and the others (finite values were checked as they were decoded), and a
model of another score must hold none of them.
"""

import numbers

import numpy as np

from ..exceptions import InconsistentModelError as _Error

__all__ = ["check_negatives_model"]

_NEGATIVE_SCORES = ("other_class", "knn_other")
_FIELDS = ("oos_other_coef_", "oos_other_intercept_", "oos_combination_")


def _table(value, where, what):
    if not (isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.ndim == 2
            and value.size and np.isfinite(value).all()):
        raise _Error(f"{where} is not a table of {what}")
    return value


def _vector(value, where, length):
    if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"
            and value.shape == (length,) and np.isfinite(value).all()):
        raise _Error(f"{where} is not {length} finite numbers")
    return value


def check_negatives_model(est, kind, n_classes, where):
    """The fitted attributes of a score with negatives against the classes and each other."""
    n_neg = getattr(est, "n_negatives_", 0)
    if isinstance(n_neg, bool) or not isinstance(n_neg, numbers.Integral) or n_neg < 0:
        raise _Error(f"{where}.n_negatives_ = {n_neg!r:.40} is not a number of photos")
    kept = getattr(est, "negative_features_", None)
    if kept is not None and len(kept) != n_neg:
        raise _Error(f"{where}.negative_features_ has {len(kept)} rows, but n_negatives_ = "
                     f"{n_neg}")
    if kind not in _NEGATIVE_SCORES:
        present = [name for name in (*_FIELDS, "negative_features_") if getattr(est, name, None) is not None]
        if present:
            raise _Error(f"{where} holds {', '.join(present)} but out_of_scope={kind!r:.40} "
                         "learns from no negatives")
        return
    if n_neg < 1:
        raise _Error(f"{where} has out_of_scope={kind!r} but was fitted on no negatives "
                     "(n_negatives_)")
    coef = _table(getattr(est, "oos_other_coef_", None), f"{where}.oos_other_coef_",
                  "logistic-regression weights")
    if coef.shape[0] != n_classes + 1:
        raise _Error(f"{where}.oos_other_coef_ has {coef.shape[0]} rows; {n_classes + 1} "
                     f"expected (the {n_classes} classes, then 'other')")
    _vector(getattr(est, "oos_other_intercept_", None), f"{where}.oos_other_intercept_",
            n_classes + 1)
    if kind == "other_class":
        if getattr(est, "oos_combination_", None) is not None:
            raise _Error(f"{where} holds oos_combination_ but out_of_scope='other_class'")
        return
    ref = _table(getattr(est, "oos_reference_", None), f"{where}.oos_reference_",
                 "training feature vectors")
    if ref.shape[1] != coef.shape[1]:
        raise _Error(f"{where}.oos_reference_ has {ref.shape[1]} features; the 'other' "
                     f"model takes {coef.shape[1]}")
    k = getattr(est, "oos_neighbors_", None)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise _Error(f"{where}.oos_neighbors_ = {k!r:.40} is not a positive integer")
    combination = _vector(getattr(est, "oos_combination_", None), f"{where}.oos_combination_",
                          4)
    if not (combination[1] > 0 and combination[3] > 0):
        raise _Error(f"{where}.oos_combination_ holds a scale that is not positive")

