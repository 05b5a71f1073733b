"""Scoring a feature table by macro recall under the protocols the models are scored with.

The protocols are those of ``skin_estimators.experiments``: ``"stratified"``,
``StratifiedKFold(n_splits, shuffle=True, random_state=seed)`` (the default), and ``"group"``,
``StratifiedGroupKFold`` with the same arguments on the groups. The figure is the mean over
all folds of all seeds of each fold's macro recall, as in the experiments' tables.
"""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import recall_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict

__all__ = ["available_protocols", "cv_scores", "shortcut_forest"]


def shortcut_forest(n_estimators=300, random_state=0):
    """The shortcut baselines' model: a class-balanced random forest."""
    return RandomForestClassifier(
        n_estimators, class_weight="balanced", min_samples_leaf=2, random_state=random_state
    )


def available_protocols(y, groups, n_splits):
    """The protocols this data allows, and a note for each one it does not."""
    protocols, notes = [], []
    counts = np.unique(y, return_counts=True)[1]
    if len(counts) < 2:
        notes.append("no cross-validation: all images are of one kind")
        return protocols, notes
    if counts.min() < n_splits:
        notes.append(
            f"no cross-validation: the smallest class has {counts.min()} images, fewer than "
            f"the {n_splits} folds"
        )
        return protocols, notes
    protocols.append("stratified")
    if groups is None:
        notes.append("no grouped protocol: the data has no groups")
    elif len(np.unique(groups)) < n_splits:
        notes.append(
            f"no grouped protocol: {len(np.unique(groups))} groups, fewer than {n_splits} folds"
        )
    else:
        protocols.append("group")
    return protocols, notes


def _splits(y, groups, protocol, n_splits, seed):
    if protocol == "stratified":
        cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        return list(cv.split(np.zeros(len(y)), y))
    cv = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y, groups))


def _macro_recall(y_true, y_pred):
    with warnings.catch_warnings():
        # A class absent from a small test fold counts as recall 0, as in the experiments.
        warnings.simplefilter("ignore")
        return recall_score(y_true, y_pred, average="macro", zero_division=0)


def cv_scores(tables, y, groups, model, protocols, seeds, n_splits=5, n_jobs=None):
    """Macro recall of ``model`` on each feature table under each protocol.

    Parameters
    ----------
    tables : dict of str to ndarray (n_samples, n_features)
    y, groups : ndarray
    model : classifier
    protocols : list of {"stratified", "group"}
    seeds : list of int
    n_splits : int
    n_jobs : int or None
        The folds of each cross-validation run in parallel processes.

    Returns
    -------
    scores : dict of (name, protocol) to dict
        ``macro_recall`` (mean over folds and seeds), ``macro_recall_std``, ``class_recall``
        (per class, from the predictions of all folds of a seed pooled, averaged over
        seeds) and ``pooled_macro_recall`` (their mean).
    """
    y = np.asarray(y)
    classes = np.unique(y)
    folds, pooled = {}, {}
    for protocol in protocols:
        for seed in seeds:
            splits = _splits(y, groups, protocol, n_splits, seed)
            for name, X in tables.items():
                # cross_val_predict's workers import scikit-learn only (not this package and
                # torch): processes start fast, and run the forests' per-tree Python
                # overhead in parallel, which threads could not.
                pred = cross_val_predict(clone(model), X, y, cv=splits, n_jobs=n_jobs)
                pooled[(name, protocol, seed)] = pred
                folds.setdefault((name, protocol), []).extend(
                    _macro_recall(y[test], pred[test]) for _, test in splits
                )
    out = {}
    for (name, protocol), values in folds.items():
        per_seed = [
            recall_score(y, pooled[(name, protocol, s)], labels=classes, average=None,
                         zero_division=0)
            for s in seeds
        ]
        class_recall = np.mean(per_seed, axis=0)
        out[(name, protocol)] = {
            "macro_recall": float(np.mean(values)),
            "pooled_macro_recall": float(class_recall.mean()),
            "macro_recall_std": float(np.std(values)),
            "class_recall": dict(zip(classes.tolist(), class_recall.tolist(), strict=True)),
        }
    return out
