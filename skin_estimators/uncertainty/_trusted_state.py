"""What a :class:`~skin_estimators.TrustedClassifier` keeps in a safe model file, and its check.

Its fitted state is numbers and arrays: the conformal quantiles, the calibration map's
parameters, the out-of-scope threshold, the Mahalanobis or nearest-neighbour model; with
cross-conformal sets also the fold models (nested estimators, built and checked as such) and
their out-of-fold scores, folds and labels. :data:`TRUSTED_FIELDS` declares each one's kind,
shape and range (see ``utils/_fields.py``) against the classes, the calibration rows and the
width of the features the wrapped estimator gives; :func:`check_trusted` checks the table, then
what no single field says (the calibration map's form, the out-of-scope model the
``out_of_scope`` parameter needs, the frozen steps and the fold models). So a crafted file
cannot make sets or flags that the fitted model would never give (the values were checked to
be finite as they were decoded, the parameters against the declared constraints).

A new fitted attribute of TrustedClassifier is stored, allowed and checked by adding its
field to :data:`TRUSTED_FIELDS`; :class:`StoredTrustedState` declares them on the class
(see ``utils/_model_state.py``).
"""

import numpy as np

from ..exceptions import InconsistentModelError as _Error
from ..utils._fields import (
    Checked,
    Floats,
    Integer,
    Ints,
    Number,
    Text,
    check_classes,
    check_fields,
)
from ._negatives_state import check_negatives_model

__all__ = ["TRUSTED_FIELDS", "StoredTrustedState", "check_trusted"]

#: The fitted attributes of TrustedClassifier a safe file may set, in the order checked.
#: Dimensions: ``n_classes`` (``classes_``), ``width`` (the features the wrapped estimator's
#: last step takes), ``n_calibration`` (``n_calibration_``), ``n_folds`` (the fold models);
#: ``rank`` is bound by the first field that has it.
TRUSTED_FIELDS = {
    "classes_": Checked(),  # see check_classes
    "n_features_in_": Integer(1),
    "n_calibration_": Integer(1, binds="n_calibration"),
    "class_counts_": Ints("n_classes", low=1),
    "cv_description_": Text(),
    "calibration_params_": Checked(),  # its shape follows the calibration parameter
    "quantiles_": Floats("n_classes", low=0.0, high=1.0),
    "oos_threshold_": Number(),
    "oos_means_": Floats("n_classes", "width"),
    "oos_basis_": Floats("rank", "width"),
    "oos_variances_": Floats("rank", low=0.0),
    "oos_floor_": Number(low=0.0, low_open=True),
    "oos_reference_": Floats("n_calibration", "width"),
    "oos_neighbors_": Integer(1),
    "frozen_steps_": Integer(0),
    "calibration_scores_": Floats("n_calibration", low=0.0, high=1.0),
    "calibration_folds_": Ints("n_calibration", high="n_folds"),
    "calibration_labels_": Ints("n_calibration", high="n_classes"),
    # The scores that learned from negatives (``uncertainty/_negatives.py``): the "other"
    # logistic regression (one row per class, then "other"), the centres and scales of the
    # kNN + other sum; their relations are checked by ``check_negatives_model``.
    "n_negatives_": Checked(),
    "oos_other_coef_": Floats("n_other_rows", "width"),
    "oos_other_intercept_": Floats("n_other_rows"),
    "oos_combination_": Floats(4),
    "negative_features_": Floats("n_negative_rows", "negative_width"),
}

#: What the out-of-scope score of each ``out_of_scope`` value needs besides the threshold.
_OOS_NEEDS = {"mahalanobis": ("oos_means_", "oos_basis_", "oos_variances_", "oos_floor_"),
              "knn": ("oos_reference_", "oos_neighbors_"), "max_proba": (),
              "other_class": ("oos_other_coef_", "oos_other_intercept_"),
              "knn_other": ("oos_reference_", "oos_neighbors_", "oos_other_coef_",
                            "oos_other_intercept_", "oos_combination_")}


def _feature_width(inner):
    """How many features the out-of-scope score sees, where the estimator says; else None.

    A pipeline's: the input of its last step. Another estimator's: its flattened input,
    known from a network's ``input_shape_`` (its ``n_features_in_`` may count channels).
    """
    last = inner.steps[-1][1] if hasattr(inner, "steps") else inner
    shape = getattr(last, "input_shape_", None)
    if isinstance(shape, tuple) and shape:
        return int(np.prod(shape))
    width = getattr(last, "n_features_in_", None) if hasattr(inner, "steps") else None
    return int(width) if isinstance(width, int | np.integer) else None


def check_trusted(est, where):
    """The fitted attributes of a TrustedClassifier against each other and its parameters."""
    n = check_classes(est.classes_, f"{where}.classes_")
    inner = getattr(est, "estimator_", None)
    if inner is not None and not np.array_equal(np.asarray(inner.classes_), est.classes_):
        raise _Error(f"{where}.classes_ differ from those of the estimator it wraps")
    dims = {"n_classes": (n, f"the {n} classes of {where}.classes_")}
    width = None if inner is None else _feature_width(inner)
    if width is not None:
        dims["width"] = (width, "the features the wrapped estimator's last step takes")
    folds = getattr(est, "estimators_", None)
    if isinstance(folds, list):
        dims["n_folds"] = (len(folds), f"the fold models of {where}.estimators_")
    dims = check_fields(est, TRUSTED_FIELDS, where, dims)
    _check_calibration(est, n, where)
    n_in = getattr(est, "n_features_in_", None)
    if n_in is not None and getattr(inner, "n_features_in_", n_in) != n_in:
        raise _Error(f"{where}.n_features_in_ = {n_in} differs from that of the estimator "
                     "it wraps")
    counts = getattr(est, "class_counts_", None)
    total = getattr(est, "n_calibration_", None)
    if counts is not None and total is not None and int(counts.sum()) != total:
        raise _Error(f"{where}.class_counts_ add up to {int(counts.sum())}, not to "
                     f"n_calibration_ = {total}")
    _check_folds(est, inner, where)
    _check_out_of_scope(est, n, where)


def _check_calibration(est, n_classes, where):
    from ._calibration import INVERSE_TEMPERATURE_RANGE

    shapes = {"temperature": (1,), "sigmoid": (1 if n_classes == 2 else n_classes, 2),
              None: (0,)}
    params = est.calibration_params_
    if not isinstance(params, np.ndarray) or params.dtype.kind != "f":
        raise _Error(f"{where}.calibration_params_ is not an array of floats")
    if params.shape != shapes[est.calibration]:
        raise _Error(f"{where}.calibration_params_ has shape {params.shape}; "
                     f"{shapes[est.calibration]} expected for calibration="
                     f"{est.calibration!r}")
    low, high = INVERSE_TEMPERATURE_RANGE
    if est.calibration == "temperature" and not low <= params[0] <= high:
        beta = float(params[0])
        raise _Error(f"{where}.calibration_params_: the inverse temperature {beta!r} lies "
                     f"outside [{low:.3g}, {high:.3g}], the range it is fitted in")


def _check_out_of_scope(est, n, where):
    kind = est.out_of_scope
    check_negatives_model(est, kind, n, where)
    if kind is None:
        if est.oos_threshold_ is not None:
            raise _Error(f"{where} has an out-of-scope threshold but out_of_scope=None")
        return
    for name in ("oos_threshold_", *_OOS_NEEDS[kind]):
        if getattr(est, name, None) is None:
            raise _Error(f"{where}.{name} is missing; out_of_scope={kind!r} needs it")
    if kind == "knn" and not len(est.oos_reference_):
        raise _Error(f"{where}.oos_reference_ holds no training feature vectors")


def _check_folds(est, inner, where):
    """The shared leading steps and, for cross-conformal sets, the fold models and scores."""
    from ._cross import frozen_prefix_length

    n_steps = len(inner.steps) if hasattr(inner, "steps") else 1
    n_frozen = getattr(est, "frozen_steps_", None)
    if n_frozen is not None:
        expected = frozen_prefix_length(inner)
        if n_frozen != expected:
            raise _Error(f"{where}.frozen_steps_ = {n_frozen}, but {expected} of the "
                         f"{n_steps} steps of the estimator it wraps learn nothing from the "
                         "data (the steps its fold models share)")
    n_frozen = n_frozen or 0
    parts = ("estimators_", "calibration_scores_", "calibration_folds_", "calibration_labels_")
    if est.conformal == "split":
        if any(getattr(est, name, None) is not None for name in parts):
            raise _Error(f"{where} holds cross-conformal fold models but conformal='split'")
        return
    folds = getattr(est, "estimators_", None)
    if not isinstance(folds, list) or not folds:
        raise _Error(f"{where} has conformal='cross' but no fold models")
    for name in parts[1:]:
        if getattr(est, name, None) is None:
            raise _Error(f"{where}.{name} is missing; conformal='cross' needs it")
    tail = inner.steps[n_frozen:] if hasattr(inner, "steps") else [("", inner)]
    first = tail[0][1]
    width = getattr(first, "n_features_in_", None)
    for j, model in enumerate(folds):
        _check_fold_model(model, tail, est.classes_, width, f"{where}.estimators_[{j}]")
    rows = np.bincount(est.calibration_folds_, minlength=len(folds))
    if (rows == 0).any():
        empty = int(np.flatnonzero(rows == 0)[0])
        raise _Error(f"{where}.estimators_[{empty}] is a fold model without calibration rows "
                     "(no calibration_folds_ entry names it)")


def _check_fold_model(model, tail, classes, width, where):
    """A fold model: the steps after the frozen ones, fitted on (some of) the classes."""
    if len(tail) == 1:
        ok = type(model) is type(tail[0][1])
    else:
        names = [name for name, _ in getattr(model, "steps", [])]
        ok = names == [name for name, _ in tail]
    if not ok:
        want = (type(tail[0][1]).__name__ if len(tail) == 1
                else "a pipeline of the steps " + ", ".join(name for name, _ in tail))
        raise _Error(f"{where} is not {want}, the steps of the estimator it wraps after the "
                     "frozen ones")
    fold_classes = getattr(model, "classes_", None)
    if fold_classes is None or not hasattr(model, "predict_proba") or not np.isin(
            np.asarray(fold_classes), classes).all():
        raise _Error(f"{where} is not a classifier of its classes")
    seen = getattr(model, "n_features_in_", None)
    if width is not None and seen is not None and seen != width:
        raise _Error(f"{where} takes {seen} features; the steps it follows give {width}")


class StoredTrustedState:
    """The model-file declaration of :class:`~skin_estimators.TrustedClassifier` (a mixin):
    its fields, those it cannot predict without, its fold models (nested estimators of their
    own, at most 100) and its check."""

    _model_file_fields = TRUSTED_FIELDS
    _model_file_required = ("classes_", "calibration_params_", "quantiles_", "oos_threshold_")
    _model_file_fold_models = 100
    _check_model_file_state = check_trusted
