"""Prediction sets, flags and calibration of a TrustedClassifier measured on labelled image
files (``evaluate_model``, ``skin-estimators evaluate``)."""

import copy

import numpy as np
from sklearn.utils import Bunch

from ._metrics import classwise_ece, coverage
from ._out_of_scope import max_proba_score
from ._quality import gate_blank
from ._trusted import _FEATURE_SCORES, FLAGS, TrustedClassifier

__all__ = ["coverage_table", "reliability_figure", "trust_summary", "trusted_batch",
           "trusted_file_pipeline"]


def trusted_file_pipeline(model):
    """``model`` as a pipeline from file paths whose last step is a TrustedClassifier, or None.

    A pipeline ending in a :class:`TrustedClassifier` is returned as it is. A fitted
    TrustedClassifier around a whole pipeline from file paths becomes the equivalent pipeline:
    the wrapped pipeline's leading steps that the fold models share (``frozen_steps_``; all
    steps but the last when there are none), then a copy of the TrustedClassifier around the
    rest (same calibration, sets and out-of-scope model; the features of the out-of-scope
    score are still the output of all the steps but the last). Anything else: None.
    """
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and isinstance(model[-1], TrustedClassifier):
        return model
    inner = getattr(model, "estimator_", None)
    if not (isinstance(model, TrustedClassifier) and isinstance(inner, Pipeline)
            and len(inner.steps) >= 2):
        return None
    if hasattr(inner[-1], "steps"):
        raise ValueError("the TrustedClassifier wraps a pipeline that ends in a pipeline; put "
                         "the TrustedClassifier last in a flat pipeline instead.")
    cut = getattr(model, "frozen_steps_", 0) or 0
    if not cut:
        if getattr(model, "conformal", "split") == "cross":
            raise ValueError("the TrustedClassifier's cross-conformal fold models take the "
                             "image files themselves; predict with the TrustedClassifier "
                             "directly.")
        cut = len(inner.steps) - 1
    view = copy.copy(model)
    view.estimator_ = inner[-1] if cut == len(inner.steps) - 1 else inner[cut:]
    view.frozen_steps_ = 0
    return Pipeline(inner.steps[:cut] + [("trustedclassifier", view)])


def trusted_batch(clf, X, mirror=False):
    """What a fitted TrustedClassifier makes of one batch, each image through the network once.

    ``X``: what ``clf`` takes (the output of the pipeline's steps before it); ``mirror``:
    average each image's probabilities (the wrapped estimator's, the calibrated ones and
    the fold models') with its left-right mirror image's. Returns a dict of ``proba``
    (calibrated), ``raw`` (the wrapped estimator's), ``sets`` (boolean, see
    :meth:`TrustedClassifier.conformal_sets`), ``score`` (out-of-scope; NaN without a score,
    ``inf`` for a blank image) and ``flag`` (:meth:`TrustedClassifier.flags_from`).
    """
    from ..utils._validation import mirror_images

    est = clf.estimator_
    frozen, feats = clf.one_pass(X)
    feats = None if feats is None else np.asarray(feats, dtype=float)
    raw = est[-1].predict_proba(feats) if feats is not None else est.predict_proba(X)
    proba = clf._calibrated(raw)
    if mirror:
        raw_m = est.predict_proba(mirror_images(X))
        raw, proba = (raw + raw_m) / 2, (proba + clf._calibrated(raw_m)) / 2
    sets = clf.conformal_sets(X, proba, mirror=mirror, frozen=frozen)
    score = np.full(len(proba), np.nan)
    if clf.out_of_scope in _FEATURE_SCORES:  # scores of the features
        score[:] = clf.score_features(clf.features(est, X) if feats is None else feats)
    elif clf.out_of_scope == "max_proba":
        score[:] = max_proba_score(proba)
    score = gate_blank(X, score)[0]  # blank images: inf
    return {"proba": proba, "raw": raw, "sets": sets, "score": score,
            "flag": clf.flags_from(sets, score)}


def trust_summary(clf, y_true, columns, present):
    """Coverage, set size, classwise ECE before/after calibration and flag shares.

    ``columns``: the photos' predictions as arrays (``_predictions.stack_predictions``:
    ``ok``, the readable files, ``proba``, ``raw``, ``score``, ``sets`` and ``flags``);
    ``present``: the classes the photos hold, over which every macro figure (per-class
    coverage, ECE) is taken. Returns a Bunch with ``sets`` (boolean, all False where
    unreadable), ``flags`` (``""`` where unreadable), ``score``, ``raw`` (the wrapped
    estimator's probabilities), ``confidence_level``, ``mondrian``, ``coverage``,
    ``coverage_per_class`` and ``size_per_class`` (dicts over ``present``),
    ``mean_set_size``, ``ece_before``, ``ece_after`` (means over ``present``),
    ``ece_per_class_before`` / ``_after`` (dicts) and ``flag_shares`` (a dict over the
    flags).
    """
    classes = clf.classes_.astype(str)
    ok, proba, raw, sets, flags = (columns.ok, columns.proba, columns.raw, columns.sets,
                                   columns.flags)
    out = Bunch(sets=sets, flags=flags, score=columns.score, raw=raw,
                confidence_level=clf.confidence_level,
                mondrian=bool(clf.mondrian), coverage=float("nan"), coverage_per_class={},
                size_per_class={}, mean_set_size=float("nan"), ece_before=float("nan"),
                ece_after=float("nan"), ece_per_class_before={}, ece_per_class_after={},
                flag_shares={f: float("nan") for f in FLAGS})
    if not ok.any():
        return out
    truth = y_true[ok]
    out.coverage, per_class = coverage(truth, sets[ok], classes)
    size = sets[ok].sum(axis=1)
    out.mean_set_size = float(size.mean())
    where = [int(np.flatnonzero(classes == c)[0]) for c in present]
    _, before = classwise_ece(truth, raw[ok], classes)
    _, after = classwise_ece(truth, proba[ok], classes)
    for c, j in zip(present, where, strict=True):
        out.coverage_per_class[c] = float(per_class[j])
        out.size_per_class[c] = float(size[truth == c].mean())
        out.ece_per_class_before[c] = float(before[j])
        out.ece_per_class_after[c] = float(after[j])
    out.ece_before = float(np.mean(before[where]))
    out.ece_after = float(np.mean(after[where]))
    out.flag_shares = {f: float(np.mean(flags[ok] == f)) for f in FLAGS}
    return out


def coverage_table(trust, n_per_class):
    """The report's text: coverage and set size per class, ECE, flag shares."""
    kind = "per class (Mondrian)" if trust.mondrian else "over all classes"
    lines = [f"Prediction sets at confidence level {trust.confidence_level:g}, {kind}:",
             f"{'class':<24}{'photos':>8}{'coverage':>10}{'set size':>10}"
             f"{'ECE raw':>9}{'ECE cal':>9}"]
    for c, cov in trust.coverage_per_class.items():
        lines.append(f"{c:<24}{n_per_class[c]:>8}{cov:>10.3f}{trust.size_per_class[c]:>10.2f}"
                     f"{trust.ece_per_class_before[c]:>9.3f}"
                     f"{trust.ece_per_class_after[c]:>9.3f}")
    lines.append(f"{'overall':<24}{sum(n_per_class.values()):>8}{trust.coverage:>10.3f}"
                 f"{trust.mean_set_size:>10.2f}{trust.ece_before:>9.3f}"
                 f"{trust.ece_after:>9.3f}")
    lines.append("Coverage: share of photos whose set holds the true class (guaranteed only for "
                 "photos exchangeable with the training photos). ECE: classwise, 10 bins, of "
                 "the wrapped model's raw probabilities and of the calibrated ones; the overall "
                 "ECE is the mean over the classes present.")
    shares = ", ".join(f"{f} {100 * s:.1f} %" for f, s in trust.flag_shares.items())
    lines.append(f"Flags: {shares}.")
    return "\n".join(lines) + "\n"


def reliability_figure(y_true, raw, proba, classes, path, eces=None, title=""):
    """Write ``path`` (PNG): reliability diagrams of the raw and the calibrated probabilities,
    side by side (written atomically: never a partial file). ``eces``: the two classwise ECEs
    for the titles (default: the mean over all of ``classes``)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    from ..utils._atomic import atomic_savefig
    from ._metrics import reliability_diagram

    fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharey=True)
    try:
        if eces is None:
            eces = [classwise_ece(y_true, p, classes)[0] for p in (raw, proba)]
        for ax, p, name, ece in zip(axes, (raw, proba), ("before calibration", "calibrated"),
                                    eces, strict=True):
            reliability_diagram(y_true, p, classes, ax=ax)
            ax.set_title(f"{name} (classwise ECE {ece:.3f})", fontsize=9)
        if title:
            fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        atomic_savefig(fig, path, dpi=80)
    finally:
        plt.close(fig)
