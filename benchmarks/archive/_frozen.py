"""What ``frozen_views.py``, ``texture_colour.py`` and ``decision_offsets.py`` share.

The frozen EfficientNet-Lite0 of the recommended model (:func:`network`), its input
normalisation (:func:`normalise`), and heads fitted and scored on the controlled protocol's
splits (``benchmarks/studies/_splits.py``): one head or a soft vote of heads
(:func:`predict_one`), a choice among candidates by an inner grouped CV
(:func:`predict_nested`), and their figures (:func:`score`). Imported by the archived
scripts, which put ``benchmarks/studies`` on the path first; it imports no study.
"""

import numpy as np
from _splits import head, macro_recalls, out_of_fold, splits
from sklearn.base import clone
from sklearn.metrics import recall_score

from skin_estimators import ChannelNormalizer, PretrainedFeatures

#: The stages whose outputs the recommended features pool (with the head).
STAGES = (2, 3, 4, 5, 6)
#: The time columns of the tables.
TIMES = (("features, 102 photos (s)", lambda r: f"{r['seconds']:.0f}"),
         ("head, 15 folds (s)", lambda r: f"{r['head_s']:.1f}"))


def network():
    features = PretrainedFeatures(model="efficientnet_lite0", stages=STAGES, backend="torch")
    features.fit(np.zeros((1, 3, 32, 32), dtype=np.float32))
    return features.backbone_.eval()


def normalise(images):
    return ChannelNormalizer(mean="efficientnet_lite").fit_transform(images)


def fit_predict(X, y, train, test, make_head=head):
    """The head fitted on ``train``, probabilities on ``test``; X (n, d) or (n, views, d)."""
    model = clone(make_head())
    if X.ndim == 2:
        model.fit(X[train], y[train])
        return model.predict_proba(X[test]), model.classes_
    k = X.shape[1]
    model.fit(X[train].reshape(len(train) * k, -1), np.repeat(y[train], k))
    proba = model.predict_proba(X[test].reshape(len(test) * k, -1))
    return proba.reshape(len(test), k, -1).mean(axis=1), model.classes_


def predict_one(Xs, make_head=head):
    """Soft vote of one head per feature table (one table: that head)."""
    def predict(y, groups, train, test):
        probas = [fit_predict(X, y, train, test, make_head) for X in Xs]
        classes = probas[0][1]
        return classes[np.mean([p for p, _ in probas], axis=0).argmax(axis=1)]
    return predict


def predict_nested(candidates, chosen):
    """Choose among ``candidates`` (name -> tables, soft-voted) by an inner grouped CV.

    The inner CV is ``StratifiedGroupKFold(5)`` on the training part's atlas pages; the
    candidate with the best inner pooled macro recall (first on ties) is refitted on the whole
    training part. ``chosen`` counts the choices.
    """
    def predict(y, groups, train, test):
        yt, gt = y[train], groups[train]
        best, best_score = None, -1.0
        for name, Xs in candidates.items():
            pred = np.empty(len(train), dtype=y.dtype)
            for itrain, itest in splits(yt, gt, seed=0):
                pred[itest] = predict_one([X[train] for X in Xs])(yt, gt, itrain, itest)
            r = recall_score(yt, pred, average="macro", zero_division=0)
            if r > best_score:
                best, best_score = name, r
        chosen[best] = chosen.get(best, 0) + 1
        return predict_one(candidates[best])(y, groups, train, test)
    return predict


def score(predict, y, groups, classes):
    """Fold mean and pooled macro recall of ``predict(y, groups, train, test)``."""
    preds, seconds = out_of_fold(lambda train, test: predict(y, groups, train, test), y, groups)
    return dict(macro_recalls(preds, y, groups, classes), head_s=seconds)
