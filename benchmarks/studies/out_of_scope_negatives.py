"""Out-of-scope detectors that learn from photos of other conditions, measured
leave-conditions-out against in-scope photos of the same source.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/studies/out_of_scope_negatives.py

Protocol (printed and written with the table):

* in scope: the atlas (``skin3``, 102 photos) trains the recommended model's head
  (StandardScaler, balanced logistic regression C=0.01) inside ``TrustedClassifier``
  (0.9 Mondrian cross-conformal sets, grouped by atlas page); the negatives are SD-198's
  photos of 24 other conditions (``sd198_other``), split leave-conditions-out into 4 folds of
  6 conditions (CV seeds 0-2 shuffle the conditions);
* a detector is fitted on the atlas and the negatives of 18 conditions; its threshold is the
  0.95 quantile of its out-of-fold scores on the atlas (5 folds grouped by page): 5 %
  in-scope false alarms on exchangeable photos;
* it is scored on the 6 held-out conditions against SD-198's photos of the three diseases
  (``sd198``, 85 photos): the same source, so a detector of the source fails here. The
  ``sd198`` photos never train or choose a detector;
* the method is chosen among five candidates (``INNER``) by an inner leave-conditions-out
  CV on the 18 training conditions
  (3 folds of 6) and the atlas only (``inner AUROC``: held-out inner conditions against the
  atlas's out-of-fold scores), among those that keep at least 90 % of the non-skin images
  out of scope (``far out of scope``, at the threshold set on the atlas): nothing of
  SD-198's three diseases enters the choice;
* a photo is ``out_of_scope`` above the threshold, else ``confident`` when its prediction
  set holds one class, else ``uncertain``;
* far out of scope: the 12 non-skin images of ``benchmarks/trust_study.py``;
  ``source AUROC``: in-scope SD-198 photos against the atlas's out-of-fold photos (0.5: the
  detector does not see the source).

Writes ``benchmarks/results/accuracy/out_of_scope_negatives.md``.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _oos_data import load_features  # noqa: E402
from _oos_methods import METHODS  # noqa: E402

from skin_estimators import TrustedClassifier, make_recommended_classifier  # noqa: E402

FLAGS = ("confident", "uncertain", "out_of_scope")
RATE = 0.05
#: The share of non-skin images a chosen method must keep out of scope (the kNN score
#: without negatives: all of them).
FAR_FLAGGED = 0.9
#: The candidates the inner CV chooses among (on the controlled inputs).
INNER = ("other class, LR C=0.01", "other class, LR C=0.001", "knn + other class (C=0.01)",
         "relative Mahalanobis", "outlier exposure, LR C=0.01")


def condition_folds(conditions, seed, n_folds=4):
    rng = np.random.RandomState(seed)
    order = rng.permutation(np.unique(conditions))
    return [order[j::n_folds] for j in range(n_folds)]


def atlas_splits(y, groups, seed):
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y, groups))


class Guard:
    """A feature view: how the raw features of each source are standardised."""

    def __init__(self, name, per_source=False, methods=None, inner=()):
        self.name, self.per_source = name, per_source
        self.methods = list(METHODS) if methods is None else methods
        self.inner = inner  # the methods the inner CV runs on (it costs 3 fits each)

    def fit(self, X_in, X_neg):
        self.in_ = StandardScaler().fit(X_in)
        self.neg_ = StandardScaler().fit(X_neg) if self.per_source else self.in_
        return self

    def inside(self, X):
        return self.in_.transform(X)

    def negatives(self, X):
        """Negatives, and the test photos of their source (SD-198)."""
        return self.neg_.transform(X)


def fit_detector(method, X_in, y_in, g_in, X_neg, g_neg, guard, seed):
    """Out-of-fold in-scope scores, the threshold and the final scorer of SD-198 photos."""
    oof = np.zeros(len(y_in))
    for train, test in atlas_splits(y_in, g_in, seed):
        gd = Guard(guard.name, guard.per_source).fit(X_in[train], X_neg)
        score = method(gd.inside(X_in[train]), y_in[train], gd.negatives(X_neg), g_neg)
        oof[test] = score(gd.inside(X_in[test]))
    gd = Guard(guard.name, guard.per_source).fit(X_in, X_neg)
    score = method(gd.inside(X_in), y_in, gd.negatives(X_neg), g_neg)
    thr = float(np.quantile(oof, 1 - RATE, method="higher"))
    return oof, thr, lambda X: score(gd.negatives(X)), gd


def auroc(neg_scores, pos_scores):
    return roc_auc_score(np.r_[np.zeros(len(neg_scores)), np.ones(len(pos_scores))],
                         np.r_[neg_scores, pos_scores])


def inner_auroc(method, f, train_conditions, guard, seed):
    """Leave-conditions-out on the training conditions and the atlas only."""
    aucs = []
    X_neg, g_neg = f["X_sd198_other"], f["y_sd198_other"]
    for held in condition_folds(train_conditions, seed + 100, 3):
        fit_c = np.isin(g_neg, train_conditions) & ~np.isin(g_neg, held)
        oof, _, score, _ = fit_detector(method, f["X_skin3"], f["y_skin3"], f["g_skin3"],
                                        X_neg[fit_c], g_neg[fit_c], guard, seed)
        aucs.append(auroc(oof, score(X_neg[np.isin(g_neg, held)])))
    return float(np.mean(aucs))


def trusted_sets(f, seed, out_of_scope):
    head = clone(make_recommended_classifier()[1:])
    clf = TrustedClassifier(head, out_of_scope=out_of_scope, conformal="cross",
                            random_state=seed).fit(f["X_skin3"], f["y_skin3"],
                                                   groups=f["g_skin3"])
    return clf


def flags_of(sets, score, thr):
    flag = np.where(sets.sum(axis=1) == 1, FLAGS[0], FLAGS[1]).astype("<U12")
    flag[score > thr] = FLAGS[2]
    return flag


def fold_metrics(s_in, s_other, s_far, s_oof, thr, a, b, y_in):
    """Figures of one fold: a, b the predict_all of in-scope SD-198 and held-out others."""
    f_in, f_other = flags_of(a["sets"], s_in, thr), flags_of(b["sets"], s_other, thr)
    conf = f_in == "confident"
    return dict(
        auroc=auroc(s_in, s_other), far_auroc=auroc(s_in, s_far),
        far_auroc_atlas=auroc(s_oof, s_far) if np.isfinite(s_oof).all() else np.nan,
        far_oos=float(np.mean(s_far > thr)),
        source_auroc=auroc(s_oof, s_in) if np.isfinite(s_oof).all() else np.nan,
        **{f"other_{k}": float(np.mean(f_other == k)) for k in FLAGS},
        in_oos=float(np.mean(f_in == "out_of_scope")), in_conf=float(conf.mean()),
        in_conf_acc=float(np.mean(a["pred"][conf] == y_in[conf])) if conf.any() else np.nan)


def run(f, guards, seeds, inner):
    X_neg, g_neg = f["X_sd198_other"], f["y_sd198_other"]
    y_in = f["y_sd198"]
    rows, kept = {}, {}
    for seed in seeds:
        clfs = {k: trusted_sets(f, seed, k) for k in ("knn", "max_proba")}
        a = clfs["knn"].predict_all(f["X_sd198"])
        b_all = clfs["knn"].predict_all(X_neg)
        cov = float(np.mean(a["sets"][np.arange(len(y_in)),
                                      np.searchsorted(clfs["knn"].classes_, y_in)]))
        for j, held in enumerate(condition_folds(g_neg, seed)):
            t0 = time.time()
            test = np.isin(g_neg, held)
            b = {k: v[test] for k, v in b_all.items()}
            mp = clfs["max_proba"]
            mp_in, mp_other = mp.predict_all(f["X_sd198"]), mp.predict_all(X_neg[test])
            m = fold_metrics(mp_in["out_of_scope_score"], mp_other["out_of_scope_score"],
                             mp.out_of_scope_score(f["X_far"]),
                             np.full(len(f["y_skin3"]), np.nan), mp.oos_threshold_, a, b, y_in)
            m["source_auroc"], m["coverage"], m["inner"] = np.nan, cov, np.nan
            rows.setdefault(("max probability (today's baseline)", "controlled inputs"),
                            []).append(m)
            train_c = np.setdiff1d(np.unique(g_neg), held)
            fit_c = np.isin(g_neg, train_c)
            for gname, (guard, feats) in guards.items():
                for name, method in METHODS.items():
                    if name not in guard.methods:
                        continue
                    oof, thr, score, _ = fit_detector(
                        method, feats["X_skin3"], feats["y_skin3"], feats["g_skin3"],
                        feats["X_sd198_other"][fit_c], g_neg[fit_c], guard, seed)
                    s_in, s_other = score(feats["X_sd198"]), score(feats["X_sd198_other"][test])
                    s_far = score(feats["X_far"])
                    m = fold_metrics(s_in, s_other, s_far, oof, thr, a, b, y_in)
                    m["coverage"] = cov
                    m["inner"] = (inner_auroc(method, feats, train_c, guard, seed)
                                  if inner and name in guard.inner else np.nan)
                    rows.setdefault((name, gname), []).append(m)
                    print(f"  {name}, {gname}: AUROC {m['auroc']:.2f}, inner {m['inner']:.2f}",
                          file=sys.stderr, flush=True)
                    kept.setdefault((name, gname), []).append(
                        dict(seed=seed, held=held, s_in=s_in, s_other=s_other, thr=thr,
                             g_other=g_neg[test], sets_in=a["sets"], sets_other=b["sets"],
                             pred_in=a["pred"]))
            print(f"seed {seed} fold {j}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return rows, kept


def bootstrap(entries, n_boot=1000, seed=0):
    """95 % intervals of the fold-mean figures, resampling conditions and in-scope photos."""
    rng = np.random.RandomState(seed)
    conditions = np.unique(np.concatenate([e["g_other"] for e in entries]))
    n_in = len(entries[0]["s_in"])
    out = {k: [] for k in ("auroc", "other_confident", "other_out_of_scope", "in_oos")}
    for _ in range(n_boot):
        drawn = rng.choice(conditions, len(conditions))
        idx_in = rng.randint(0, n_in, n_in)
        per = {k: [] for k in out}
        for e in entries:
            idx = np.concatenate([np.flatnonzero(e["g_other"] == c) for c in drawn])
            if not len(idx):
                continue
            s_in, s_o = e["s_in"][idx_in], e["s_other"][idx]
            f_o = flags_of(e["sets_other"][idx], s_o, e["thr"])
            per["auroc"].append(auroc(s_in, s_o))
            per["other_confident"].append(np.mean(f_o == "confident"))
            per["other_out_of_scope"].append(np.mean(f_o == "out_of_scope"))
            per["in_oos"].append(np.mean(s_in > e["thr"]))
        for k in out:
            out[k].append(np.mean(per[k]))
    return {k: np.percentile(v, [2.5, 97.5]) for k, v in out.items()}


def leave_one_class_out(f, methods, seed=0):
    """Atlas AUROC of each held-out disease against the others' out-of-fold photos, the
    detector trained with all 24 conditions as negatives (CV seed 0)."""
    y, g = f["y_skin3"], f["g_skin3"]
    X_neg, g_neg = f["X_sd198_other"], f["y_sd198_other"]
    out = {}
    for name in methods:
        for c in np.unique(y):
            inside, held = np.flatnonzero(y != c), np.flatnonzero(y == c)
            aucs = []
            for train, test in atlas_splits(y[inside], g[inside], seed):
                tr, te = inside[train], inside[test]
                guard = Guard("controlled").fit(f["X_skin3"][tr], X_neg)
                score = METHODS[name](guard.inside(f["X_skin3"][tr]), y[tr],
                                      guard.inside(X_neg), g_neg)
                aucs.append(auroc(score(guard.inside(f["X_skin3"][te])),
                                  score(guard.inside(f["X_skin3"][held]))))
            out[(name, c)] = float(np.mean(aucs))
    return out


COLUMNS = [("inner AUROC", "inner", 2), ("AUROC", "auroc", 2),
           ("other confident", "other_confident", 0), ("other uncertain", "other_uncertain", 0),
           ("other out of scope", "other_out_of_scope", 0),
           ("in-scope out of scope", "in_oos", 0), ("in-scope confident", "in_conf", 0),
           ("accuracy of confident", "in_conf_acc", 0), ("coverage", "coverage", 2),
           ("far AUROC", "far_auroc", 2), ("far AUROC (atlas)", "far_auroc_atlas", 2),
           ("far out of scope", "far_oos", 0),
           ("source AUROC", "source_auroc", 2)]


def cell(value, digits):
    if value is None or np.isnan(value):
        return "-"
    return f"{value:.{digits}f}" if digits else f"{100 * value:.0f} %"


def table(rows):
    lines = ["| method | features | " + " | ".join(c for c, _, _ in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for (name, gname), ms in rows.items():
        vals = [cell(np.nanmean([m[k] for m in ms]) if not all(
            np.isnan(m[k]) for m in ms) else np.nan, d) for _, k, d in COLUMNS]
        lines.append(f"| {name} | {gname} | " + " | ".join(vals) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache",
                        default=os.path.join(tempfile.gettempdir(), "skin_estimators_oos"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-inner", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="remake the tables from the folds saved in --cache")
    parser.add_argument("--out", default=os.path.join(HERE, "..", "results", "accuracy",
                                                      "out_of_scope_negatives.md"))
    args = parser.parse_args()
    print(__doc__.split("Protocol")[1].split("Writes")[0], file=sys.stderr)
    f = load_features(args.cache)
    sog = load_features(args.cache, "shades_of_gray")
    guards = {"controlled inputs": (Guard("controlled", inner=INNER), f),
              "controlled + Shades of Gray": (Guard("sog", methods=[
                  "knn (today)", "other class, LR C=0.01", "relative Mahalanobis",
                  "knn + other class (C=0.01)"]), sog),
              "per-source standardised (test source known)": (Guard("src", True, methods=[
                  "other class, LR C=0.01", "knn + other class (C=0.01)"]), f)}
    t0 = time.time()
    import pickle

    saved = os.path.join(args.cache, f"oos_study_{'_'.join(map(str, args.seeds))}.pkl")
    if args.reuse and os.path.exists(saved):  # the folds of an earlier run: tables only
        with open(saved, "rb") as fh:
            rows, kept = pickle.load(fh)
    else:
        rows, kept = run(f, guards, args.seeds, not args.no_inner)
        with open(saved, "wb") as fh:
            pickle.dump((rows, kept), fh)
    # The choice sees no SD-198 photo of the three diseases: the inner AUROC (atlas and
    # training conditions) among the candidates that keep the non-skin images out of scope
    # (at least FAR_FLAGGED of them above the threshold set on the atlas).
    candidates = [k for k in rows if not np.isnan(rows[k][0]["inner"])
                  and np.mean([m["far_oos"] for m in rows[k]]) >= FAR_FLAGGED]
    best = max(candidates, key=lambda k: np.mean([m["inner"] for m in rows[k]])) \
        if candidates else None
    best_yard = max((k for k in kept if k[0] not in ("knn (today)", "mahalanobis")),
                    key=lambda k: np.mean([m["auroc"] for m in rows[k]]))
    lines = ["# Out-of-scope detectors with negatives (photos of other conditions)", "",
             "Made by `benchmarks/studies/out_of_scope_negatives.py`. Protocol:",
             __doc__.split("Protocol (printed and written with the table):")[1]
             .split("Writes")[0].rstrip(), "",
             f"CV seeds {args.seeds}, {len(rows[next(iter(rows))])} leave-conditions-out "
             "folds in all; every figure is the mean over the folds. Shares of the held-out "
             "other-condition photos (`other ...`) and of SD-198's in-scope photos "
             "(`in-scope ...`) per flag; coverage of the 0.9 sets on SD-198's in-scope "
             "photos (the out-of-scope detector does not change the sets).", ""]
    lines += table(rows)
    for label, key in (("chosen by the inner CV (atlas + training conditions only)", best),
                       ("today's kNN score", ("knn (today)", "controlled inputs")),
                       ("best on the yardstick (for reference: chosen on it, so optimistic)",
                        best_yard)):
        if key is None:
            continue
        ci = bootstrap(kept[key])
        lines += ["", f"**{label}**: {key[0]}, {key[1]}. 95 % bootstrap intervals "
                  "(conditions and in-scope photos resampled, 1000 draws): " + "; ".join(
                      f"{k} {cell(lo, 2 if k == 'auroc' else 0)} - "
                      f"{cell(hi, 2 if k == 'auroc' else 0)}" for k, (lo, hi) in ci.items())
                  + "."]
    loco_methods = ["knn (today)"] + [k[0] for k in (best, best_yard) if k is not None]
    loco = leave_one_class_out(f, list(dict.fromkeys(loco_methods)))
    classes = np.unique(f["y_skin3"])
    lines += ["", "### The three diseases left out one at a time (atlas, AUROC, CV seed 0; "
              "controlled inputs; negatives: all 24 conditions)", "",
              "| method | " + " | ".join(classes) + " |", "|---|" + "---|" * len(classes)]
    for name in dict.fromkeys(loco_methods):
        lines.append(f"| {name} | " + " | ".join(f"{loco[(name, c)]:.2f}" for c in classes)
                     + " |")
    lines += ["", f"({time.time() - t0:.0f} s on {os.cpu_count()} shared CPU cores"
              + (", the folds read back from an earlier run (--reuse): the intervals and the "
                 "table of the three diseases only" if args.reuse else "") + ".)"]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
