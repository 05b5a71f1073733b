"""Cross-conformal prediction sets from the fold models of a cross-validation, and the leading
steps of a pipeline that learn nothing from the data (fitted once, shared by the folds).

Cross-conformal prediction (Vovk 2015, "Cross-conformal predictors", Annals of Mathematics
and Artificial Intelligence 74) keeps the model of every fold ``j`` and the out-of-fold
conformity scores ``s_i`` of the samples of that fold. The p-value of class ``k`` for a new
sample ``x`` counts, over all folds, the calibration samples of fold ``j`` whose score is at
least the score ``s_j(x, k)`` that fold ``j``'s own model gives ``x`` for ``k``::

    p_k(x) = (1 + sum_j #{i in fold j : s_i >= s_j(x, k)}) / (n + 1)

and ``k`` is in the set when ``p_k(x) > 1 - confidence_level``, strictly: a p-value equal to
it (possible when ``(1 - confidence_level) * (n + 1)`` is a whole number) leaves ``k`` out,
the convention of Vovk's definition and the one that matches the split-conformal quantile
(the ``ceil((n + 1) * confidence_level)``-th smallest score). Tied scores count as "at least"
(the conservative side). Mondrian (class-conditional) sets count only the calibration samples
of true class ``k`` and divide by ``n_k + 1``. The score is LAC's, one minus the (calibrated)
probability. MAPIE's ``CrossConformalClassifier`` (``conformity_score="lac"``, its
``agg_scores="crossval"`` path in ``LACConformityScore.get_prediction_sets``) counts the same
``#{i : s_i >= s_{fold(i)}(x, k)}`` but keeps ``k`` when the count is at least
``(1 - confidence_level) * (n - 1)``; the rule here is Vovk's p-value, which differs from it by
less than one count. The guarantee is ``1 - 2 * (1 - confidence_level)`` in theory (Vovk
2015; Barber et al. 2021 for the jackknife+/CV+ analogue), and in practice close to the level.
"""

import numpy as np

__all__ = ["cross_conformal_pvalues", "cross_conformal_sets", "frozen_prefix_length",
           "learns_from_data", "split_frozen", "take_rows"]

#: Scores closer than this count as tied (a calibration sample's own score lies on it).
_TOL = 1e-12


def learns_from_data(step):
    """Whether fitting ``step`` learns anything from the values of the data it is fitted on.

    False for ``"passthrough"`` and None, for a step whose scikit-learn tags say it needs no
    fit at all (``requires_fit=False``: :class:`~skin_estimators.ImageLoader`, scikit-learn's
    ``FunctionTransformer``), and for a step whose ``_fit_learns_from_data`` is False: its
    ``fit`` only builds or loads fixed parameters, so that fitting it on any data gives the
    same transformer (:class:`~skin_estimators.PretrainedFeatures`, a frozen network;
    :class:`~skin_estimators.ChannelNormalizer` with both statistics given). Such steps are
    fitted once and shared by all the folds of a cross-validation.
    """
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return False
    try:
        marker = getattr(step, "_fit_learns_from_data", None)
    except Exception:  # noqa: BLE001 - invalid parameters: fit will say so; assume it learns
        return True
    if marker is False:
        return False
    tags = getattr(step, "__sklearn_tags__", None)
    if tags is None:
        return True
    try:
        return bool(tags().requires_fit)
    except Exception:  # noqa: BLE001 - an estimator with broken tags is taken to learn
        return True


def frozen_prefix_length(estimator):
    """How many leading steps of a pipeline learn nothing from the data (0 if not a pipeline).

    The last step (the classifier) is never counted.
    """
    steps = getattr(estimator, "steps", None)
    if not isinstance(steps, list):
        return 0
    count = 0
    for _, step in steps[:-1]:
        if learns_from_data(step):
            break
        count += 1
    return count


def cross_conformal_pvalues(fold_scores, scores, folds, labels, mondrian=True):
    """The cross-conformal p-value of every class for every sample.

    Parameters
    ----------
    fold_scores : ndarray of shape (n_folds, n_samples, n_classes)
        ``1 - p`` of each fold model for the new samples (calibrated probabilities).
    scores : ndarray of shape (n_calibration,)
        The out-of-fold LAC scores of the calibration samples.
    folds : ndarray of shape (n_calibration,)
        The fold (index into ``fold_scores``) each calibration sample was left out of.
    labels : ndarray of shape (n_calibration,)
        Their true class indices.
    mondrian : bool, default=True
        Count only the calibration samples of the class (class-conditional p-values).

    Returns
    -------
    ndarray of shape (n_samples, n_classes)

    Examples
    --------
    >>> import numpy as np
    >>> new = np.array([[[0.1, 0.9]], [[0.3, 0.7]]])  # two folds, one sample, two classes
    >>> cal = np.array([0.2, 0.4, 0.5, 0.1])
    >>> cross_conformal_pvalues(new, cal, np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    array([[1.        , 0.33333333]])
    """
    fold_scores = np.asarray(fold_scores, dtype=float)
    n_folds, n, n_classes = fold_scores.shape
    counts = np.zeros((n, n_classes))
    totals = np.zeros(n_classes)
    for j in range(n_folds):
        in_fold = folds == j
        for k in range(n_classes):
            ref = np.sort(scores[in_fold & (labels == k)] if mondrian else scores[in_fold])
            below = np.searchsorted(ref, fold_scores[j, :, k] - _TOL, side="left")
            counts[:, k] += len(ref) - below
            totals[k] += len(ref)
    return (1.0 + counts) / (1.0 + totals)[None, :]


def cross_conformal_sets(fold_scores, scores, folds, labels, confidence_level, mondrian=True):
    """Boolean ``(n_samples, n_classes)``: class ``k`` is in the set when its cross-conformal
    p-value exceeds ``1 - confidence_level`` (see :func:`cross_conformal_pvalues`)."""
    pvalues = cross_conformal_pvalues(fold_scores, scores, folds, labels, mondrian)
    return pvalues > (1.0 - confidence_level) + _TOL


def take_rows(X, index):
    """Rows ``index`` of an array, a DataFrame or a list (of file paths)."""
    if hasattr(X, "iloc"):
        return X.iloc[index]
    if isinstance(X, (list, tuple)):
        return [X[i] for i in index]
    return X[index] if hasattr(X, "shape") else np.asarray(X)[index]


def split_frozen(estimator, n_frozen):
    """``(prefix, tail)`` of a pipeline: its first ``n_frozen`` steps (None when 0) and the
    rest (the last step itself when only it is left)."""
    if not n_frozen:
        return None, estimator
    tail = estimator.steps[n_frozen][1] if n_frozen == len(estimator.steps) - 1 \
        else estimator[n_frozen:]
    return estimator[:n_frozen], tail
