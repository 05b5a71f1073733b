"""Split-conformal prediction sets from out-of-fold probabilities, marginal or per class.

The conformity score is LAC's (Sadinle, Lei and Wasserman 2019, MAPIE's ``"lac"``): one
minus the probability of the true class. A class enters an image's set when its score is at
most the calibrated quantile. The quantile is the ``ceil((n + 1) * level)``-th smallest of
``n`` calibration scores (the finite-sample correction), the order statistic MAPIE's
``SplitConformalClassifier`` uses; with too few scores for the level it is 1 and the class is
always in the set. Mondrian (class-conditional) sets take the quantile among the scores of
each true class separately, so that every class, a rare one too, keeps the coverage level.
"""

import math

import numpy as np

__all__ = ["conformal_quantiles", "lac_scores", "prediction_sets"]


def _order_statistic(scores, level):
    """The split-conformal quantile of ``scores`` at ``level`` (1.0 when there are too few)."""
    n = len(scores)
    rank = math.ceil((n + 1) * level)
    if n == 0 or rank > n:
        return 1.0
    return float(np.sort(scores)[rank - 1])


def lac_scores(proba, y_enc):
    """One minus each row's probability of its true class (``y_enc``: class indices)."""
    return 1.0 - proba[np.arange(len(y_enc)), y_enc]


def conformal_quantiles(proba, y_enc, confidence_level, mondrian=True):
    """The score threshold of each class, shape ``(n_classes,)``.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Calibration probabilities (out of fold).
    y_enc : ndarray of shape (n_samples,)
        True class indices.
    confidence_level : float
        The coverage level in (0, 1).
    mondrian : bool, default=True
        One quantile per true class (class-conditional coverage) or one for all.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]])
    >>> conformal_quantiles(proba, np.array([0, 0, 1, 1]), 0.5).round(6).tolist()
    [0.4, 0.3]
    """
    scores = lac_scores(proba, y_enc)
    n_classes = proba.shape[1]
    if not mondrian:
        return np.full(n_classes, _order_statistic(scores, confidence_level))
    return np.array([_order_statistic(scores[y_enc == k], confidence_level)
                     for k in range(n_classes)])


def prediction_sets(proba, quantiles):
    """Boolean ``(n_samples, n_classes)``: class ``k`` is in the set when ``1 - p_k <= q_k``."""
    # A hair of tolerance: a calibration image's own score lies on the threshold exactly.
    return (1.0 - proba) <= (np.asarray(quantiles)[None, :] + 1e-12)
