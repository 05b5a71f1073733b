"""The fitted attributes a safe model file may restore, per allow-listed estimator class.

A file's ``fitted`` entry is a mapping from attribute name to value, and loading sets each
one on the new estimator. Only the names below are accepted: the public ``*_`` attributes
that the class's ``fit`` creates (and that the writer stores; skorch's run-time bookkeeping
and the networks themselves travel differently). Any other name (``__class__``,
``predict_proba``, ``transform``, a property such as a network's ``classes_``) is refused, so
a file can neither change an object's class nor shadow its methods.

The tests fit every allow-listed estimator and check that each attribute the writer stores
is listed here, so the tables cannot silently fall behind the estimators.
"""

from collections.abc import Mapping

from ._codec import InconsistentModelError

__all__ = ["FITTED", "REQUIRED", "check_fitted_names", "is_fitted_name"]

# What every skorch classifier of the library stores (classes_ is a property of the label
# encoder there, stored apart with the network weights).
_NET = ("n_features_in_", "input_shape_", "class_weight_", "classes_inferred_")
# The pretrained (timm) classifiers also keep their mixed-precision scaler (None once saved).
_TIMM = _NET + ("grad_scaler_",)


class _ByClass(Mapping):
    """Allow-listed class name -> entry; a class not in the table (an architecture's
    estimator) takes the entry of its nearest base class that is."""

    def __init__(self, table):
        self._table = table

    def __getitem__(self, class_name):
        if class_name in self._table:
            return self._table[class_name]
        from ._registry import estimator_class

        try:
            cls = estimator_class(class_name)
        except KeyError:
            raise KeyError(class_name) from None
        for base in cls.__mro__:
            if f"skin_estimators.{base.__name__}" in self._table:
                return self._table[f"skin_estimators.{base.__name__}"]
        raise KeyError(class_name)

    def __iter__(self):
        return iter(self._table)

    def __len__(self):
        return len(self._table)


#: Allow-listed class name -> the fitted attributes a file may set on it (an architecture's
#: estimator class: those of the base class it derives from).
FITTED = _ByClass({
    "skin_estimators.SkinNetClassifier": _NET,
    "skin_estimators._TimmClassifier": _TIMM,
    "skin_estimators.ImageLoader": ("n_features_in_",),
    "skin_estimators.ChannelNormalizer": ("mean_", "std_", "n_features_in_"),
    "skin_estimators.PretrainedFeatures": ("n_features_in_", "n_features_out_"),
    "sklearn.preprocessing.StandardScaler": (
        "n_features_in_", "feature_names_in_", "n_samples_seen_", "mean_", "var_", "scale_"),
    "sklearn.linear_model.LogisticRegression": (
        "n_features_in_", "feature_names_in_", "classes_", "n_iter_", "coef_", "intercept_"),
    "sklearn.pipeline.Pipeline": (),
    # Its members (estimators_) are nested descriptions; its label encoder and
    # named_estimators_ are rebuilt from classes_ and the members.
    "sklearn.ensemble.VotingClassifier": ("classes_",),
    # Its wrapped estimator (estimator_) and its fold models (estimators_) are stored as
    # nested descriptions of their own.
    "skin_estimators.TrustedClassifier": (
        "classes_", "n_features_in_", "calibration_params_", "quantiles_", "oos_threshold_",
        "oos_means_", "oos_basis_", "oos_variances_", "oos_floor_", "oos_reference_",
        "oos_neighbors_", "n_calibration_",
        "class_counts_", "cv_description_", "frozen_steps_", "calibration_scores_",
        "calibration_folds_", "calibration_labels_",
        # the out-of-scope scores that learned from negatives (``uncertainty/_negatives.py``)
        "oos_other_coef_", "oos_other_intercept_", "oos_combination_", "n_negatives_"),
})

#: Allow-listed class name -> the fitted attributes a file must set (the estimator cannot
#: predict without them).
REQUIRED = _ByClass({
    "skin_estimators.SkinNetClassifier": ("input_shape_",),
    "skin_estimators.ChannelNormalizer": ("mean_", "std_"),
    "sklearn.preprocessing.StandardScaler": ("n_features_in_", "mean_", "scale_"),
    "sklearn.linear_model.LogisticRegression": ("n_features_in_", "classes_", "coef_",
                                                "intercept_"),
    "skin_estimators.TrustedClassifier": ("classes_", "calibration_params_", "quantiles_",
                                          "oos_threshold_"),
    "sklearn.ensemble.VotingClassifier": ("classes_",),
})


def is_fitted_name(name):
    """Whether ``name`` has the form of a fitted attribute: public and ending in ``_``."""
    return (isinstance(name, str) and name.isidentifier() and name.endswith("_")
            and not name.startswith("_"))


def check_fitted_names(class_name, names, where):
    """Raise InconsistentModelError (a ValueError) unless ``class_name`` has all ``names``.

    Parameters
    ----------
    class_name : str
        The allow-listed name of the estimator's class.
    names : iterable of str
        The keys of the file's ``fitted`` entry.
    where : str
        Where the estimator sits in the file (``model['logisticregression']``).
    """
    allowed = FITTED.get(class_name, ())
    short = class_name.rsplit(".", 1)[-1]
    names = list(names)
    for name in names:
        if not is_fitted_name(name) or name not in allowed:
            listed = ", ".join(allowed) if allowed else "none"
            raise InconsistentModelError(
                f"{where}.{name!s:.60} is not a fitted attribute of {short} (it has: "
                f"{listed}), refusing it"
            )
    missing = [name for name in REQUIRED.get(class_name, ()) if name not in names]
    if missing:
        raise InconsistentModelError(
            f"{where} is a {short} without its fitted attribute(s) {', '.join(missing)}"
        )
