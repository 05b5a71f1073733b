"""The operating point of a trusted model: which answers a clinic can act on.

A :class:`~skin_estimators.TrustedClassifier` flags each photo ``confident`` (one class in
its prediction set, in scope), ``uncertain`` or ``out_of_scope``. A clinic acts on the
``confident`` answers alone, so two numbers say what the model is worth to it: the share of
in-scope photos answered ``confident`` (how much work it takes off the clinician) and the
accuracy among them (how often such an answer is right); and, on photos of conditions the
model was never trained on, the share still answered ``confident`` (each one a wrong
diagnosis given with confidence).

The risk-coverage curve (selective classification, Geifman and El-Yaniv 2017) shows the
trade-off behind that point: answering only the photos whose top calibrated probability
reaches a threshold, and moving the threshold, gives the accuracy among the answered photos
against the share answered.
"""

import numpy as np

from ._trusted import FLAGS

__all__ = ["flag_shares", "operating_point", "risk_coverage_curve"]

_CONFIDENT = FLAGS[0]


def _mask(flags):
    flags = np.asarray(flags).astype(str)
    return flags, flags == _CONFIDENT


def operating_point(y_true, y_pred, flags, labels=None):
    """The share of photos answered ``confident`` and the accuracy among them, per class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        The true classes.
    y_pred : array-like of shape (n_samples,)
        The predicted classes (the answer a ``confident`` flag vouches for).
    flags : array-like of str, shape (n_samples,)
        ``"confident"``, ``"uncertain"`` or ``"out_of_scope"`` per photo
        (:meth:`~skin_estimators.TrustedClassifier.predict_flag`).
    labels : list of str, default=None
        The classes to report, in order (default: the sorted classes of ``y_true``).

    Returns
    -------
    point : dict
        ``{"overall": row, class: row, ...}``; each row a dict of ``n`` (photos),
        ``n_confident``, ``confident`` (share answered ``confident``) and
        ``confident_accuracy`` (share of those whose ``y_pred`` is ``y_true``; NaN when
        none is ``confident``), and ``accuracy`` (of every photo, flagged or not).

    Examples
    --------
    >>> from skin_estimators.uncertainty import operating_point
    >>> point = operating_point(["a", "a", "b", "b"], ["a", "b", "b", "b"],
    ...                         ["confident", "uncertain", "confident", "out_of_scope"])
    >>> point["overall"]["confident"], point["overall"]["confident_accuracy"]
    (0.5, 1.0)
    >>> point["a"]["n_confident"], point["b"]["accuracy"]
    (1, 1.0)
    """
    y_true = np.asarray(y_true).astype(str)
    y_pred = np.asarray(y_pred).astype(str)
    flags, confident = _mask(flags)
    if not (len(y_true) == len(y_pred) == len(flags)):
        raise ValueError(f"operating_point: y_true, y_pred and flags must have one entry per "
                         f"photo; got {len(y_true)}, {len(y_pred)} and {len(flags)}.")
    labels = sorted(set(y_true.tolist())) if labels is None else [str(c) for c in labels]
    right = y_true == y_pred

    def row(mask):
        n, n_conf = int(mask.sum()), int((mask & confident).sum())
        return {"n": n, "n_confident": n_conf,
                "confident": n_conf / n if n else float("nan"),
                "confident_accuracy": float(right[mask & confident].mean()) if n_conf
                else float("nan"),
                "accuracy": float(right[mask].mean()) if n else float("nan")}

    out = {"overall": row(np.ones(len(y_true), dtype=bool))}
    for c in labels:
        out[c] = row(y_true == c)
    return out


def flag_shares(flags):
    """The share of photos given each flag, over the flags of :data:`FLAGS`.

    Parameters
    ----------
    flags : array-like of str, shape (n_samples,)

    Returns
    -------
    shares : dict
        ``{flag: share}``, NaN for each when ``flags`` is empty.

    Examples
    --------
    >>> from skin_estimators.uncertainty import flag_shares
    >>> flag_shares(["confident", "out_of_scope", "out_of_scope", "uncertain"])
    {'confident': 0.25, 'uncertain': 0.25, 'out_of_scope': 0.5}
    """
    flags = np.asarray(flags).astype(str)
    if not len(flags):
        return {f: float("nan") for f in FLAGS}
    return {f: float(np.mean(flags == f)) for f in FLAGS}


def risk_coverage_curve(y_true, proba, classes):
    """Accuracy among the answered photos against the share answered, as the threshold on
    the top (calibrated) probability moves.

    A photo is answered when its largest probability is at least the threshold; every
    distinct top probability is a threshold, from the highest (the surest photos only) to
    the lowest (every photo answered). Ties are answered together.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : ndarray of shape (n_samples, n_classes)
        Probabilities, columns in the order of ``classes``.
    classes : array-like of shape (n_classes,)

    Returns
    -------
    coverage : ndarray of shape (n_thresholds,)
        The share of photos answered, increasing.
    accuracy : ndarray of shape (n_thresholds,)
        The accuracy (top class) among the answered photos.
    thresholds : ndarray of shape (n_thresholds,)
        The threshold of each point, decreasing.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators.uncertainty import risk_coverage_curve
    >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    >>> cov, acc, thr = risk_coverage_curve(["a", "a", "a", "b"], proba, ["a", "b"])
    >>> cov.tolist(), acc.round(3).tolist(), thr.tolist()
    ([0.25, 0.5, 0.75, 1.0], [1.0, 1.0, 0.667, 0.5], [0.9, 0.8, 0.7, 0.6])
    """
    y_true = np.asarray(y_true).astype(str)
    proba = np.asarray(proba, dtype=float)
    classes = np.asarray(classes).astype(str)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise ValueError(f"risk_coverage_curve: proba must have shape (n_samples, n_classes) = "
                         f"({len(y_true)}, {len(classes)}); got {proba.shape}.")
    if not np.isfinite(proba).all():
        raise ValueError("risk_coverage_curve: proba holds NaN or infinite values; leave out "
                         "the photos that could not be read.")
    if not len(y_true):
        return np.empty(0), np.empty(0), np.empty(0)
    top = proba.max(axis=1)
    right = classes[proba.argmax(axis=1)] == y_true
    order = np.argsort(-top, kind="stable")
    top, right = top[order], right[order]
    # The last photo of each run of equal top probabilities: ties are answered together.
    last = np.r_[np.flatnonzero(np.diff(top) != 0), len(top) - 1]
    answered = last + 1
    return answered / len(top), np.cumsum(right)[last] / answered, top[last]
