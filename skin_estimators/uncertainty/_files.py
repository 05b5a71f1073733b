"""The trust columns of a batch prediction from image files (``skin-estimators predict``)."""

import numpy as np

from ._trusted import _FEATURE_SCORES, FLAGS, TrustedClassifier

__all__ = ["trust_columns"]


def trust_columns(model, paths, proba, errors, batch_size=16, score=None, sets=None):
    """``prediction_set`` (classes joined by ``|``), ``out_of_scope_score`` and ``flag`` per file.

    ``proba`` are the model's (calibrated) probabilities of ``paths`` (NaN rows where
    ``errors`` names a reason). Returns None when the model's last step is not a
    :class:`TrustedClassifier` (a model file without these parts); the columns are empty
    strings for the files that could not be read. ``score`` (per file, as
    :func:`~skin_estimators.uncertainty._evaluation.predict_files_trusted` gives it with the
    probabilities) saves transforming the images a second time, and so do ``sets`` (boolean
    ``(n_files, n_classes)``, as it gives them too).
    """
    from ..inference import transform_files

    clf = model[-1]
    if not isinstance(clf, TrustedClassifier):
        return None
    ok = [i for i, e in enumerate(errors) if e is None]
    n = len(paths)
    member = None if sets is None else np.asarray(sets, dtype=bool)[ok]
    sets, scores, flags = [""] * n, [""] * n, [""] * n
    if not ok:
        return sets, scores, flags
    cross = getattr(clf, "conformal", "split") == "cross"
    needs_images = (score is None and clf.out_of_scope in _FEATURE_SCORES) or (
        member is None and cross)
    if score is not None:
        score = np.asarray(score, dtype=float)[ok]
    if needs_images:
        part_scores, part_sets = [], []
        for start in range(0, len(ok), batch_size):
            chunk = [paths[i] for i in ok[start:start + batch_size]]
            X, _, _ = transform_files(model[:-1], chunk)
            if score is None:
                part_scores.append(clf.out_of_scope_score(X))
            if member is None:
                part_sets.append(clf.conformal_sets(X, proba[ok[start:start + batch_size]]))
        score = np.concatenate(part_scores) if part_scores else score
        member = np.concatenate(part_sets) if part_sets else member
    if member is None:
        member = clf.conformal_sets(None, proba[ok])
    if score is None:
        score = clf.out_of_scope_score(None, proba=proba[ok])
    flag = np.where(member.sum(axis=1) == 1, FLAGS[0], FLAGS[1]).astype("<U12")
    if clf.oos_threshold_ is not None:
        flag[score > clf.oos_threshold_] = FLAGS[2]
    flag[np.isposinf(score)] = FLAGS[2]  # blank images (the quality gate)
    for j, i in enumerate(ok):
        sets[i] = "|".join(str(c) for c in clf.classes_[member[j]])
        scores[i] = "" if np.isnan(score[j]) else f"{score[j]:.6g}"
        flags[i] = str(flag[j])
    return sets, scores, flags
