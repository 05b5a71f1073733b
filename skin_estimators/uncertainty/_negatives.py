"""Out-of-scope scores that learn from negatives: photos of conditions the classifier was not
trained on.

The score of a classifier trained on its classes alone (a distance to the training photos)
cannot tell a new condition that looks like the training ones from a new photo of a known
class. Photos of other conditions show what "none of these" looks like (outlier exposure,
Hendrycks et al. 2019). Two scores use them, both on the same features as the other scores
(the last step's input of the wrapped pipeline):

``"other_class"``
    A logistic regression with the negatives as one more class, "other" (scikit-learn's
    ``LogisticRegression``, classes balanced, ``C`` = :data:`OTHER_C`); the score is the
    log-odds of "other" against the in-scope classes, ``z_other - logsumexp(z_classes)``
    of its linear logits. It is a separate model: the classifier, its probabilities and its
    prediction sets do not change, and "other" is never a predicted class.
``"knn_other"``
    The sum of the k-nearest-neighbour distance to the in-scope training photos
    (``_out_of_scope.knn_score``) and of the ``"other_class"`` log-odds, each centred on
    its mean over the in-scope training photos and divided by its standard deviation over
    all training photos (in scope and negatives). The distance keeps what is far from all
    skin photos (not a photo of skin at all) out of scope, the log-odds what is near the
    negatives.

Negatives of one source and in-scope photos of another let a detector learn the source
instead of the condition; see the user guide ("How sure is the model?") for what guards
against it and what does not.
"""

import numpy as np
from scipy.special import logsumexp

from ._out_of_scope import KNN_NEIGHBORS, fit_knn, knn_score

__all__ = ["NEGATIVE_SCORES", "OTHER_C", "check_negatives", "fit_negatives", "negatives_score"]

#: The out-of-scope scores that need negatives.
NEGATIVE_SCORES = ("other_class", "knn_other")
#: The inverse regularisation strength of the "other" logistic regression (the recommended
#: classifier's own).
OTHER_C = 0.01


def _other_logodds(features, coef, intercept):
    logits = np.asarray(features, dtype=float) @ coef.T + intercept
    return logits[:, -1] - logsumexp(logits[:, :-1], axis=1)


def fit_negatives(kind, features, y_enc, n_classes, negatives):
    """The fitted attributes of a score with negatives, as a dict of ``oos_*_`` names.

    Parameters
    ----------
    kind : {"other_class", "knn_other"}
    features : ndarray of shape (n_samples, n_features)
        The in-scope training features.
    y_enc : ndarray of shape (n_samples,)
        Their class indices, ``0 .. n_classes - 1``.
    n_classes : int
    negatives : ndarray of shape (n_negatives, n_features)
        The features of the negatives.

    Returns
    -------
    dict
        ``oos_other_coef_`` ``(n_classes + 1, n_features)`` and ``oos_other_intercept_``
        ``(n_classes + 1,)``, the last row being "other"; for ``"knn_other"`` also
        ``oos_reference_``, ``oos_neighbors_`` and ``oos_combination_`` (the two scores'
        centres and scales, ``[m_knn, s_knn, m_other, s_other]``).
    """
    from sklearn.linear_model import LogisticRegression

    features = np.asarray(features, dtype=float)
    negatives = np.asarray(negatives, dtype=float)
    X = np.concatenate([features, negatives])
    y = np.concatenate([y_enc, np.full(len(negatives), n_classes)])
    lr = LogisticRegression(C=OTHER_C, class_weight="balanced", max_iter=2000).fit(X, y)
    coef, intercept = lr.coef_, lr.intercept_
    if n_classes + 1 == 2:  # (binary: one row of logits for class 1, i.e. "other")
        coef = np.concatenate([np.zeros_like(coef), coef])
        intercept = np.concatenate([np.zeros_like(intercept), intercept])
    fitted = {"oos_other_coef_": coef, "oos_other_intercept_": intercept}
    if kind == "knn_other":
        reference = fit_knn(features)
        combination = []
        for score in (knn_score(X, reference, KNN_NEIGHBORS),
                      _other_logodds(X, coef, intercept)):
            scale = float(score.std())
            combination += [float(score[:len(features)].mean()), scale if scale > 0 else 1.0]
        fitted.update(oos_reference_=reference, oos_neighbors_=KNN_NEIGHBORS,
                      oos_combination_=np.asarray(combination))
    return fitted


def negatives_score(kind, features, fitted):
    """The score of ``features`` under the attributes ``fitted`` (an object or a dict)."""
    get = fitted.get if isinstance(fitted, dict) else (lambda name: getattr(fitted, name))
    other = _other_logodds(features, get("oos_other_coef_"), get("oos_other_intercept_"))
    if kind == "other_class":
        return other
    m_knn, s_knn, m_other, s_other = get("oos_combination_")
    near = knn_score(features, get("oos_reference_"), get("oos_neighbors_"))
    return (near - m_knn) / s_knn + (other - m_other) / s_other


def check_negatives(kind, X_other, prefix=None):
    """The negatives ``X_other`` after the frozen leading steps ``prefix`` (None: as given),
    or None when the score ``kind`` uses none; a ValueError when they do not go together."""
    if kind not in NEGATIVE_SCORES:
        if X_other is not None:
            raise ValueError(f"TrustedClassifier: X_other (negatives) is used only by "
                             f"out_of_scope='other_class' or 'knn_other', not {kind!r}; "
                             "drop X_other or choose one of those.")
        return None
    if X_other is None or len(X_other) == 0:
        raise ValueError(f"TrustedClassifier: out_of_scope={kind!r} learns from negatives; "
                         "give fit X_other, photos of conditions outside the classes.")
    return X_other if prefix is None else prefix.transform(X_other)
