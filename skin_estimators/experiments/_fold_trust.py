"""A fold's prediction sets and probabilities, for a config with a ``trust:`` section.

Inside each training fold the row's estimator is wrapped in a
:class:`~skin_estimators.TrustedClassifier` (its own inner, grouped under the grouped and
controlled protocols, calibration CV on the training part only); the test fold then gets
its calibrated and raw probabilities, prediction sets, out-of-scope scores and flags. They
go into the fold record as plain JSON values, in the order of the run's labels, so that
the results table can pool each seed's out-of-fold predictions (``_trust_results.py``).
"""

import math

import numpy as np

__all__ = ["GROUPED_PROTOCOLS", "fold_trust", "fold_trust_metrics", "trust_arrays"]

#: The protocols whose folds keep an atlas page out of its own calibration (the inner CV
#: gets the training part's groups). The stratified protocol's test folds share pages with
#: their training part, and so do its calibration folds: the sets are calibrated for the
#: split they are measured on.
GROUPED_PROTOCOLS = ("group", "controlled")


def _columns(classes, labels):
    """For each of ``labels``, its column in ``classes`` (-1 for a class the fold lacks)."""
    where = {str(c): i for i, c in enumerate(np.asarray(classes).tolist())}
    return np.array([where.get(str(label), -1) for label in labels])


def _in_label_order(values, cols, fill):
    values = np.asarray(values)
    out = np.full((len(values), len(cols)), fill, dtype=values.dtype)
    present = cols >= 0
    out[:, present] = values[:, cols[present]]
    return out


def fold_trust(clf, answers, y_true, labels, trust):
    """The ``trust`` field of a FoldRecord.

    Parameters
    ----------
    clf : TrustedClassifier
        Fitted on the fold's training part.
    answers : dict
        ``clf.predict_all`` of the test fold.
    y_true : array-like of shape (n_test,)
    labels : list of str
        The run's classes: the column order of ``proba``, ``raw`` and ``sets``.
    trust : TrustConfig
        The config's ``trust:`` section.

    Returns
    -------
    dict
        ``config`` (the section), ``classes``, ``y_true``, ``proba`` (calibrated), ``raw``
        (the wrapped estimator's), ``sets`` (0/1), ``out_of_scope_score`` (None where
        undefined), ``flag``, ``n_calibration``, ``inner_cv`` and ``oos_threshold``.
    """
    cols = _columns(clf.classes_, labels)
    score = np.asarray(answers["out_of_scope_score"], dtype=float)
    return {
        "config": trust.model_dump(),
        "classes": [str(c) for c in labels],
        "y_true": [str(v) for v in np.asarray(y_true).tolist()],
        "proba": _in_label_order(answers["proba"], cols, 0.0).astype(float).tolist(),
        "raw": _in_label_order(answers["raw"], cols, 0.0).astype(float).tolist(),
        "sets": _in_label_order(answers["sets"], cols, False).astype(int).tolist(),
        "out_of_scope_score": [None if math.isnan(v) else float(v) for v in score],
        "flag": [str(f) for f in answers["flag"]],
        "n_calibration": int(clf.n_calibration_),
        "inner_cv": str(clf.cv_description_),
        "oos_threshold": None if clf.oos_threshold_ is None else float(clf.oos_threshold_),
    }


def trust_arrays(trust):
    """``(y_true, proba, raw, sets, flag)`` of a record's ``trust`` field, as arrays."""
    return (np.asarray(trust["y_true"], dtype=str), np.asarray(trust["proba"], dtype=float),
            np.asarray(trust["raw"], dtype=float), np.asarray(trust["sets"], dtype=bool),
            np.asarray(trust["flag"], dtype=str))


def fold_trust_metrics(record):
    """One fold's coverage, mean set size and classwise ECE (calibrated and raw); {} without
    trust parts. The results table's figures are the pooled ones (``_trust_results.py``)."""
    from skin_estimators.uncertainty import classwise_ece, coverage, mean_set_size

    trust = getattr(record, "trust", None)
    if not trust or not trust.get("y_true"):
        return {}
    y, proba, raw, sets, _ = trust_arrays(trust)
    classes = trust["classes"]
    present = np.isin(classes, y)
    return {
        "coverage": coverage(y, sets, classes)[0],
        "set_size": mean_set_size(sets),
        "ece": float(classwise_ece(y, proba, classes)[1][present].mean()),
        "ece_raw": float(classwise_ece(y, raw, classes)[1][present].mean()),
    }
