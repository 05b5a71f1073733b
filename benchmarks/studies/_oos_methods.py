"""Out-of-scope detectors screened by ``out_of_scope_negatives.py``, on standardised features.

Each method is ``fit(Z_in, y_in, Z_neg, g_neg) -> score(Z)``: ``Z_in`` the in-scope training
features (the atlas), ``Z_neg`` the negatives (photos of other conditions, ``g_neg`` their
condition); the score is higher for photos less like the in-scope classes. The features are
the recommended model's, after its ``StandardScaler`` (fitted on the in-scope photos).
"""

import numpy as np
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression

from skin_estimators._internal import (
    fit_knn,
    fit_mahalanobis,
    knn_score,
    mahalanobis_score,
)


def _codes(y):
    return np.unique(y, return_inverse=True)[1]


def knn_in(Z_in, y_in, Z_neg, g_neg):
    """Today's score: distance to the 5th nearest in-scope photo (negatives unused)."""
    ref = fit_knn(Z_in)
    return lambda Z: knn_score(Z, ref, 5)


def maha_in(Z_in, y_in, Z_neg, g_neg):
    """Mahalanobis distance to the nearest in-scope class mean (negatives unused)."""
    model = fit_mahalanobis(Z_in, _codes(y_in), len(np.unique(y_in)))
    return lambda Z: mahalanobis_score(Z, *model)


def other_class(C=0.01):
    """Logistic regression with the negatives as one more class "other"; log-odds of it."""
    def fit(Z_in, y_in, Z_neg, g_neg):
        X = np.r_[Z_in, Z_neg]
        y = np.r_[_codes(y_in), np.full(len(Z_neg), -1)]
        lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(X, y)

        def score(Z):  # from the logits: log-probabilities underflow to -inf
            z = lr.decision_function(Z)
            return z[:, 0] - logsumexp(z[:, 1:], axis=1)
        return score
    return fit


def outlier_exposure(C=0.01, weight=1.0):
    """Logistic regression trained with a uniform target on the negatives (outlier
    exposure, Hendrycks et al. 2019: each negative counts once per class with weight 1/K);
    score: minus the largest probability."""
    def fit(Z_in, y_in, Z_neg, g_neg):
        codes = _codes(y_in)
        k = codes.max() + 1
        w_in = len(codes) / (k * np.bincount(codes)[codes])  # balanced classes
        X = np.r_[Z_in, np.tile(Z_neg, (k, 1))]
        y = np.r_[codes, np.repeat(np.arange(k), len(Z_neg))]
        w = np.r_[w_in, np.full(k * len(Z_neg), weight * len(codes) / (k * len(Z_neg)))]
        lr = LogisticRegression(C=C, max_iter=2000).fit(X, y, sample_weight=w)
        return lambda Z: -lr.predict_proba(Z).max(axis=1)
    return fit


def relative_mahalanobis(Z_in, y_in, Z_neg, g_neg):
    """Class-conditional Gaussians with one shared (Ledoit-Wolf) covariance, one per in-scope
    class and one per negative condition: the distance to the nearest in-scope mean minus
    the distance to the nearest negative-condition mean (a relative Mahalanobis distance)."""
    codes_in = _codes(y_in)
    k = codes_in.max() + 1
    codes = np.r_[codes_in, k + _codes(g_neg)]
    means, basis, variances, floor = fit_mahalanobis(np.r_[Z_in, Z_neg], codes, codes.max() + 1)

    def score(Z):
        d_in = mahalanobis_score(Z, means[:k], basis, variances, floor)
        d_neg = mahalanobis_score(Z, means[k:], basis, variances, floor)
        return d_in - d_neg
    return score


def knn_ratio(Z_in, y_in, Z_neg, g_neg):
    """Distance to the 5th nearest in-scope photo minus that to the 5th nearest negative."""
    ref_in, ref_neg = fit_knn(Z_in), fit_knn(Z_neg)
    return lambda Z: knn_score(Z, ref_in, 5) - knn_score(Z, ref_neg, 5)


def combined(first, second, weight=1.0):
    """Sum of two scores, each centred on the training in-scope photos' mean and scaled by
    its standard deviation over all training photos (in scope and negatives)."""
    def fit(Z_in, y_in, Z_neg, g_neg):
        parts = []
        for method, w in ((first, 1.0), (second, weight)):
            score = method(Z_in, y_in, Z_neg, g_neg)
            s_in, s_neg = score(Z_in), score(Z_neg)
            parts.append((score, s_in.mean(), np.r_[s_in, s_neg].std() or 1.0, w))
        return lambda Z: sum(w * (s(Z) - m) / sd for s, m, sd, w in parts)
    return fit


METHODS = {
    "knn (today)": knn_in,
    "mahalanobis": maha_in,
    "other class, LR C=0.01": other_class(0.01),
    "other class, LR C=0.001": other_class(0.001),
    "knn + other class (C=0.01)": combined(knn_in, other_class(0.01)),
    "knn + relative Mahalanobis": combined(knn_in, relative_mahalanobis),
    "outlier exposure, LR C=0.01": outlier_exposure(0.01),
    "relative Mahalanobis": relative_mahalanobis,
    "kNN in - kNN negatives": knn_ratio,
}
