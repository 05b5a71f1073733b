"""scikit-learn's own estimators in a safe model file: what they keep, and its checks.

The library's estimators declare their model-file state on their classes
(``utils/_model_state.py``); scikit-learn's cannot, so their tables are here: the fitted
attributes a file may set on each allow-listed scikit-learn class (:data:`FITTED`), those it
must set (:data:`REQUIRED`) and the check of them against each other (:data:`CHECKS`). A
``VotingClassifier``'s members and a ``Pipeline``'s steps are nested descriptions of their
own (``_voting.py``, ``_safe.py``).
"""

import numpy as np

from ..exceptions import InconsistentModelError
from ..utils._fields import check_classes, float_array, positive_int

__all__ = ["CHECKS", "FITTED", "REQUIRED"]

#: Allow-listed scikit-learn class name -> the fitted attributes a file may set on it.
FITTED = {
    "sklearn.preprocessing.StandardScaler": (
        "n_features_in_", "feature_names_in_", "n_samples_seen_", "mean_", "var_", "scale_"),
    "sklearn.linear_model.LogisticRegression": (
        "n_features_in_", "feature_names_in_", "classes_", "n_iter_", "coef_", "intercept_"),
    "sklearn.pipeline.Pipeline": (),
    # Its members (estimators_) are nested descriptions; its label encoder and
    # named_estimators_ are rebuilt from classes_ and the members.
    "sklearn.ensemble.VotingClassifier": ("classes_",),
}

#: Allow-listed scikit-learn class name -> the fitted attributes a file must set.
REQUIRED = {
    "sklearn.preprocessing.StandardScaler": ("n_features_in_", "mean_", "scale_"),
    "sklearn.linear_model.LogisticRegression": ("n_features_in_", "classes_", "coef_",
                                                "intercept_"),
    "sklearn.ensemble.VotingClassifier": ("classes_",),
}


def _check_standard_scaler(est, where):
    n = positive_int(est.n_features_in_, f"{where}.n_features_in_")
    float_array(est.mean_, f"{where}.mean_", (n,), allow_none=not est.with_mean)
    scale = float_array(est.scale_, f"{where}.scale_", (n,), allow_none=not est.with_std)
    if scale is not None and not (scale > 0).all():
        raise InconsistentModelError(f"{where}.scale_ is not positive for every feature")
    var = float_array(getattr(est, "var_", None), f"{where}.var_", (n,), allow_none=True)
    if var is not None and (var < 0).any():
        raise InconsistentModelError(f"{where}.var_ holds a negative variance")
    _check_feature_names(est, n, where)


def _check_logistic_regression(est, where):
    n_classes = check_classes(est.classes_, f"{where}.classes_")
    n = positive_int(est.n_features_in_, f"{where}.n_features_in_")
    rows = 1 if n_classes == 2 else n_classes
    coef = est.coef_
    if not isinstance(coef, np.ndarray) or coef.dtype.kind != "f" or coef.ndim != 2:
        raise InconsistentModelError(f"{where}.coef_ is not a 2-D array of floats")
    if coef.shape[0] != rows:
        raise InconsistentModelError(f"{where}.coef_ has {coef.shape[0]} row(s) for the "
                                     f"{n_classes} classes in classes_; {rows} expected")
    if coef.shape[1] != n:
        raise InconsistentModelError(f"{where}.coef_ has {coef.shape[1]} columns for "
                                     f"n_features_in_ = {n}")
    float_array(est.intercept_, f"{where}.intercept_", (rows,))
    n_iter = getattr(est, "n_iter_", None)
    if n_iter is not None and not (isinstance(n_iter, np.ndarray) and n_iter.dtype.kind in "iu"):
        raise InconsistentModelError(f"{where}.n_iter_ is not an array of iteration counts")
    _check_feature_names(est, n, where)


def _check_feature_names(est, n, where):
    names = getattr(est, "feature_names_in_", None)
    if names is not None and not (isinstance(names, np.ndarray) and names.shape == (n,)
                                  and all(isinstance(x, str) for x in names.tolist())):
        raise InconsistentModelError(f"{where}.feature_names_in_ is not one name per feature")


#: Allow-listed scikit-learn class name -> the check of its fitted attributes (after they
#: were set; a VotingClassifier is checked as it is built, ``_voting.py``).
CHECKS = {
    "sklearn.preprocessing.StandardScaler": _check_standard_scaler,
    "sklearn.linear_model.LogisticRegression": _check_logistic_regression,
}
