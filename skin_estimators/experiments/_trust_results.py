"""The results table's trust columns: prediction sets and calibration, pooled out of fold.

For a config with a ``trust:`` section every fold record holds the test fold's calibrated and
raw probabilities and prediction sets (``_fold_trust.py``). As ``recall_macro_pooled``, each
figure is computed on one seed's out-of-fold predictions taken together (every photo once),
and averaged over the seeds; a seed counts only when all its folds are there:

* ``coverage_pooled``: share of photos whose set holds the true class, and
  ``coverage_<class>_pooled`` per true class (the Mondrian guarantee is per class);
* ``set_size_pooled``: the mean number of classes in a set;
* ``ece_pooled`` / ``ece_raw_pooled``: classwise ECE (10 equal-width bins, mean over the
  classes present) of the calibrated and of the wrapped estimator's probabilities;
* ``log_loss_pooled`` / ``log_loss_raw_pooled``: the same probabilities' log loss;
* ``confident_pooled``, ``uncertain_pooled``, ``out_of_scope_pooled``: the shares of the
  flags. Every test photo is in scope, so ``out_of_scope_pooled`` is the in-scope false-alarm
  rate (``false_alarm_rate`` is its target). No out-of-scope AUROC: a cross-validation of
  in-scope photos has no out-of-scope photos to score;
* ``confident_accuracy_pooled``: the accuracy among the photos flagged ``confident`` (their
  top class, that of the wrapped estimator's probabilities, is the true one). With
  ``confident_pooled`` it is the operating point: the share of answers a clinic can act on,
  and how often they are right.

The guarantees hold for photos exchangeable with the training photos: under the grouped
and controlled protocols a test page is new to its fold, and so is each calibration page to
its inner fold. Rows without trust parts (the shortcut baselines, configs without
``trust:``) have none of these columns.
"""

import json
import warnings

import numpy as np

from ._fold_trust import trust_arrays

__all__ = ["TRUST_HEAD", "has_trust", "pooled_trust", "trust_cells", "trust_section"]

#: The trust columns of the main table of ``results.md`` (when a row has them).
TRUST_HEAD = ["coverage", "set size", "ECE", "confident", "right among confident"]

_FLAGS = ("confident", "uncertain", "out_of_scope")


def _seed_figures(folds):
    """The figures of one seed's pooled out-of-fold predictions."""
    from sklearn.metrics import log_loss

    from skin_estimators.uncertainty import classwise_ece, coverage, mean_set_size

    parts = [trust_arrays(f.trust) for f in folds]
    y, proba, raw, sets, flag = (np.concatenate(p) for p in zip(*parts, strict=True))
    classes = folds[0].trust["classes"]
    present = np.isin(classes, y)
    overall, per_class = coverage(y, sets, classes)
    out = {"coverage_pooled": overall}
    for c, value in zip(classes, per_class, strict=True):
        out[f"coverage_{c}_pooled"] = float(value)
    out["set_size_pooled"] = mean_set_size(sets)
    for suffix, p in (("", proba), ("_raw", raw)):
        out[f"ece{suffix}_pooled"] = float(classwise_ece(y, p, classes)[1][present].mean())
        # Row sums off by rounding only; log_loss wants them at one.
        p = np.clip(p, 1e-15, None)
        out[f"log_loss{suffix}_pooled"] = float(log_loss(y, p / p.sum(axis=1, keepdims=True),
                                                         labels=classes))
    for f in _FLAGS:
        out[f"{f}_pooled"] = float(np.mean(flag == f))
    confident = flag == _FLAGS[0]
    right = np.asarray(classes)[raw.argmax(axis=1)] == y
    out["confident_accuracy_pooled"] = float(right[confident].mean()) if confident.any() \
        else float("nan")
    return out


def pooled_trust(records):
    """The trust columns of one table row (empty when no record has trust parts).

    Each seed whose folds are all present, all with trust parts, gives its pooled figures;
    the columns are their means over those seeds (NaN where no seed is complete, or for a
    class absent from every complete seed).
    """
    with_trust = [r for r in records if getattr(r, "trust", None)]
    if not with_trust:
        return {}
    by_seed = {}
    for r in records:
        by_seed.setdefault(r.seed, []).append(r)
    figures = [_seed_figures(sorted(folds, key=lambda f: f.fold)) for folds in by_seed.values()
               if len({f.fold for f in folds}) == folds[0].n_folds
               and all(getattr(f, "trust", None) for f in folds)]
    config = with_trust[0].trust["config"]
    out = {"trust_confidence_level": config["confidence_level"],
           "trust": json.dumps(config, sort_keys=True)}
    keys = figures[0] if figures else _empty(with_trust[0].trust["classes"])
    for key in keys:
        values = np.array([f.get(key, np.nan) for f in figures], dtype=float)
        with warnings.catch_warnings():  # a class no complete seed holds: NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            out[key] = float(np.nanmean(values)) if len(values) else float("nan")
    return out


def _empty(classes):
    return ["coverage_pooled", *(f"coverage_{c}_pooled" for c in classes), "set_size_pooled",
            "ece_pooled", "log_loss_pooled", "ece_raw_pooled", "log_loss_raw_pooled",
            *(f"{f}_pooled" for f in _FLAGS), "confident_accuracy_pooled"]


def _number(value, spec=".3f"):
    if value is None or value == "":
        return "–"
    value = float(value)
    return "–" if np.isnan(value) else format(value, spec)


def has_trust(table):
    """Whether any row of ``table`` has trust columns."""
    return any(r.get("coverage_pooled") not in (None, "") for r in table)


def trust_cells(row):
    """The row's cells under :data:`TRUST_HEAD` ("–" without trust parts)."""
    return [_number(row.get("coverage_pooled")), _number(row.get("set_size_pooled"), ".2f"),
            _number(row.get("ece_pooled")), _number(row.get("confident_pooled")),
            _number(row.get("confident_accuracy_pooled"))]


def trust_section(table, protocols, labels, name, sort):
    """The lines of results.md's section on prediction sets and calibration ([] without)."""
    rows = [r for r in sort(table) if r.get("coverage_pooled") not in (None, "")]
    if not rows:
        return []
    rows.sort(key=lambda r: protocols.index(r["cv"]) if r["cv"] in protocols else len(protocols))
    head = ["model", "cv", "level", "coverage", *(f"coverage {c}" for c in labels), "set size",
            "ECE raw", "ECE", "log loss raw", "log loss", "confident", "right among confident",
            "out of scope"]
    lines = ["## Prediction sets and calibration (trust:), pooled out of fold", "",
             "Each row's estimator wrapped in a TrustedClassifier inside each training fold "
             "(its calibration and conformal CV on the training part only, grouped by atlas "
             "page under the grouped and controlled protocols). Figures of each seed's "
             "out-of-fold predictions taken together, averaged over the seeds: coverage (share "
             "of photos whose prediction set holds the true class, overall and per true "
             "class; the target is the level), mean set size, classwise ECE (10 bins) and log "
             "loss of the raw and of the calibrated probabilities, and the shares of photos "
             "flagged confident (one class in the set), the accuracy among them (the "
             "operating point: the answers a clinic can act on, and how often they are right) "
             "and the share flagged out of scope (all are in scope: false alarms). The "
             "guarantee holds for photos exchangeable with the training "
             "photos; no out-of-scope AUROC, as the folds hold no out-of-scope photos.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [name(r), r["cv"], _number(r.get("trust_confidence_level"), "g"),
                 _number(r["coverage_pooled"]),
                 *(_number(r.get(f"coverage_{c}_pooled")) for c in labels),
                 _number(r.get("set_size_pooled"), ".2f"), _number(r.get("ece_raw_pooled")),
                 _number(r.get("ece_pooled")), _number(r.get("log_loss_raw_pooled")),
                 _number(r.get("log_loss_pooled")), _number(r.get("confident_pooled")),
                 _number(r.get("confident_accuracy_pooled")),
                 _number(r.get("out_of_scope_pooled"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]
