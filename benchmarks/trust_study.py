"""How sure is the recommended model? Coverage, set size, ECE and out-of-scope AUROC measured
on the study's 102 photos under the controlled protocol.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/trust_study.py

The recommended model (``make_recommended_classifier()`` after the controlled inputs, as
``benchmarks/configs/best.yaml`` builds it) has a frozen backbone: its features do not depend
on the labels or on the fold. They are computed once for all photos (cached in
``--cache``) and ``TrustedClassifier`` runs over the model's last steps
(``StandardScaler``, ``LogisticRegression(C=0.01, class_weight="balanced")``) - the same
numbers as the whole pipeline, in seconds. Writes ``benchmarks/results/accuracy/trust_tables.md``
(read in ``trust.md``) and the
reliability diagram ``docs/_static/trust/reliability.png``.

``--color-constancy shades_of_gray``: the same on inputs with that colour constancy
(``benchmarks/configs/candidate_shades_of_gray.yaml``); features cached apart, tables written
to ``trust_tables_shades_of_gray.md``, no figure.
"""

import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np
from sklearn.base import clone
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from skin_estimators import TrustedClassifier, fetch_skin3, make_recommended_classifier
from skin_estimators.uncertainty import FLAGS, classwise_ece, coverage, operating_point

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "speed"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "studies"))
from _common import feature_cache  # noqa: E402 (benchmarks/speed)
from _splits import far_images, front_pipeline  # noqa: E402 (benchmarks/studies)

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = (0, 1, 2)


def best_trust():
    """The ``trust:`` section of ``benchmarks/configs/best.yaml`` (the default measured)."""
    from skin_estimators.experiments import load_config

    return load_config(os.path.join(HERE, "configs", "best.yaml")).trust


BEST = best_trust()
LEVEL = BEST.confidence_level
OUT_OF_SCOPE = BEST.classifier_params()["out_of_scope"]
#: The features of best.yaml's negatives (photos of other conditions) when its out-of-scope
#: score learns from them (set by main), else None.
NEGATIVES = None
CONFORMAL = BEST.conformal
_SETS = {"cross": "cross-conformal", "split": "split (refit)"}
VARIANTS = [  # (name, mondrian, calibration, conformal); the first is best.yaml's
    (f"Mondrian, {BEST.calibration or 'no calibration'}, {_SETS[CONFORMAL]} (default)",
     BEST.mondrian, BEST.calibration, CONFORMAL),
]
for _mondrian, _calibration, _conformal in [
        (True, "temperature", "cross"), (True, "temperature", "split"),
        (False, "temperature", "cross"), (False, "temperature", "split"),
        (True, None, "cross"), (True, None, "split"), (False, None, "split")]:
    if (_mondrian, _calibration, _conformal) != VARIANTS[0][1:]:
        VARIANTS.append((f"{'Mondrian' if _mondrian else 'marginal'}, "
                         f"{_calibration or 'no calibration'}, {_SETS[_conformal]}",
                         _mondrian, _calibration, _conformal))


def head():
    """The recommended model's last steps (StandardScaler, balanced LR, C=0.01)."""
    return clone(make_recommended_classifier()[1:])


def features(cache, color_constancy=None):
    suffix = f"_{color_constancy}" if color_constancy else ""
    path = os.path.join(cache, f"trust_study_features{suffix}.npz")
    if os.path.exists(path):
        with np.load(path) as f:
            return f["X"], f["far"]
    os.makedirs(cache, exist_ok=True)
    data = fetch_skin3()
    front = front_pipeline(color_constancy)
    t0 = time.time()
    X = front.fit_transform(list(data.filenames))  # frozen: no labels, no fold
    far = front.transform(far_images(os.path.join(cache, "far")))
    print(f"features of {len(X)} + {len(far)} images in {time.time() - t0:.0f} s",
          file=sys.stderr)
    np.savez(path, X=X, far=far)
    return X, far


def trusted(seed, **params):
    params.setdefault("out_of_scope", OUT_OF_SCOPE)
    params.setdefault("conformal", CONFORMAL)
    return TrustedClassifier(head(), confidence_level=LEVEL, random_state=seed, **params)


def fit(clf, X, y, groups):
    """``clf.fit``, with best.yaml's negatives when its score learns from them."""
    from skin_estimators._internal import NEGATIVE_SCORES

    other = {"X_other": NEGATIVES} if clf.out_of_scope in NEGATIVE_SCORES else {}
    return clf.fit(X, y, groups=groups, **other)


def negative_features(cache, color_constancy=None):
    """The features of best.yaml's negatives (cached), or None when it names none."""
    from skin_estimators._internal import load_config_negatives
    from skin_estimators.experiments import load_config

    files = load_config_negatives(load_config(os.path.join(HERE, "configs", "best.yaml")))
    if files is None:
        return None
    suffix = f"_{color_constancy}" if color_constancy else ""
    path = os.path.join(cache, f"trust_study_negatives{suffix}.npz")
    if os.path.exists(path):
        with np.load(path) as f:
            if len(f["X"]) == len(files):
                return f["X"]
    X = front_pipeline(color_constancy).fit_transform(files)
    np.savez(path, X=X)
    return X


def geometry():
    """Log file size, width, height and aspect of the photos (as the audit reads them)."""
    from skin_estimators._internal import file_properties

    props, _ = file_properties(list(fetch_skin3().filenames))
    return np.hstack([props[k] for k in ("file_size", "width", "height", "aspect")])


def geometry_score(geo, tr, te):
    """The same detector (k-NN on L2-normalised, standardised features) on geometry alone."""
    from sklearn.preprocessing import StandardScaler

    from skin_estimators._internal import fit_knn, knn_score

    scaler = StandardScaler().fit(geo[tr])
    return knn_score(scaler.transform(geo[te]), fit_knn(scaler.transform(geo[tr])))


def outer(seed):
    return StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)


def protocol(X, far, y, groups, classes):
    """Out-of-fold calibrated/raw probabilities, sets and flags per seed and variant."""
    rows = {name: [] for name, *_ in VARIANTS}
    far_auc, far_flag, reliability = [], [], None
    for seed in SEEDS:
        print(f"protocol, seed {seed}", file=sys.stderr, flush=True)
        for name, mondrian, calibration, conformal in VARIANTS:
            n, k = len(y), len(classes)
            proba, raw, sets = np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k), bool)
            flags = np.empty(n, dtype="<U12")
            for train, test in outer(seed).split(X, y, groups):
                clf = trusted(seed, mondrian=mondrian, calibration=calibration,
                              conformal=conformal)
                fit(clf, X[train], y[train], groups[train])
                out = clf.predict_all(X[test])
                proba[test], sets[test], flags[test] = out["proba"], out["sets"], out["flag"]
                raw[test] = clf.estimator_.predict_proba(X[test])
                if name == VARIANTS[0][0]:
                    s_far = clf.out_of_scope_score(far)
                    s_in = out["out_of_scope_score"]
                    far_auc.append(roc_auc_score(np.r_[np.zeros(len(s_in)), np.ones(len(far))],
                                                 np.r_[s_in, s_far]))
                    far_flag.append(float(np.mean(clf.predict_flag(far) == "out_of_scope")))
            cov, per_class = coverage(y, sets, classes)
            size = sets.sum(axis=1)
            rows[name].append(dict(
                coverage=cov, per_class=per_class,
                size=size.mean(), size_per_class=[size[y == c].mean() for c in classes],
                ece_raw=classwise_ece(y, raw, classes)[0], ece=classwise_ece(y, proba, classes)[0],
                ece_pc_raw=classwise_ece(y, raw, classes)[1],
                ece_pc=classwise_ece(y, proba, classes)[1],
                ll_raw=log_loss(y, raw, labels=classes), ll=log_loss(y, proba, labels=classes),
                flags=[np.mean(flags == f) for f in FLAGS],
                point=operating_point(y, classes[raw.argmax(axis=1)], flags, labels=classes)))
            if seed == 0 and name == VARIANTS[0][0]:
                reliability = (raw.copy(), proba.copy())
    return rows, far_auc, far_flag, reliability


def leave_one_class_out(X, y, groups, classes):
    """Per held-out class: Mahalanobis and max-probability AUROC, flag shares."""
    out = {}
    geo = geometry()
    for c in classes:
        print(f"leave out {c}", file=sys.stderr, flush=True)
        inside = np.flatnonzero(y != c)
        held = np.flatnonzero(y == c)
        res = {k: [] for k in ("auc", "auc_maha", "auc_geo", "auc_base", "c_flagged", "c_oos",
                               "in_oos")}
        for seed in SEEDS:
            for train, test in outer(seed).split(X[inside], y[inside], groups[inside]):
                tr, te = inside[train], inside[test]
                clf = fit(trusted(seed), X[tr], y[tr], groups[tr])
                a, b = clf.predict_all(X[te]), clf.predict_all(X[held])
                truth = np.r_[np.zeros(len(te)), np.ones(len(held))]
                res["auc"].append(roc_auc_score(
                    truth, np.r_[a["out_of_scope_score"], b["out_of_scope_score"]]))
                maha = trusted(seed, out_of_scope="mahalanobis").fit(X[tr], y[tr],
                                                                      groups=groups[tr])
                res["auc_maha"].append(roc_auc_score(truth, np.r_[
                    maha.out_of_scope_score(X[te]), maha.out_of_scope_score(X[held])]))
                res["auc_geo"].append(roc_auc_score(truth, geometry_score(
                    geo, tr, np.r_[te, held])))
                base = 1 - np.r_[a["proba"].max(axis=1), b["proba"].max(axis=1)]
                res["auc_base"].append(roc_auc_score(truth, base))
                res["c_flagged"].append(np.mean(b["flag"] != "confident"))
                res["c_oos"].append(np.mean(b["flag"] == "out_of_scope"))
                res["in_oos"].append(np.mean(a["flag"] == "out_of_scope"))
        out[c] = {k: float(np.mean(v)) for k, v in res.items()}
    return out


def _mean(rows, key):
    return np.mean([r[key] for r in rows], axis=0)


def _point(rows, group, key):
    """The mean over the seeds of one operating-point figure (NaN seeds left out)."""
    values = [r["point"][group][key] for r in rows]
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")


def _pct(value):
    return "–" if value != value else f"{100 * value:.0f} %"


def tables(rows, far_auc, far_flag, loco, classes):
    lines = []
    default = rows[VARIANTS[0][0]]
    head_ = f"| class | photos | coverage at {LEVEL:g} | per seed 0 / 1 / 2 | mean set size |" \
            " ECE raw | ECE calibrated | confident | right among confident |"
    lines += [f"### Default ({VARIANTS[0][0].replace(' (default)', '')}: best.yaml), per class",
              "", head_,
              "|---|---|---|---|---|---|---|---|---|"]
    for j, c in enumerate(classes):
        seeds = " / ".join(f"{r['per_class'][j]:.3f}" for r in default)
        lines.append(f"| {c} | {int(np.sum(Y == c))} | {_mean(default, 'per_class')[j]:.3f} | "
                     f"{seeds} | {_mean(default, 'size_per_class')[j]:.2f} | "
                     f"{_mean(default, 'ece_pc_raw')[j]:.3f} | {_mean(default, 'ece_pc')[j]:.3f} | "
                     f"{_pct(_point(default, c, 'confident'))} | "
                     f"{_pct(_point(default, c, 'confident_accuracy'))} |")
    seeds = " / ".join(f"{r['coverage']:.3f}" for r in default)
    lines.append(f"| **overall** | {len(Y)} | **{_mean(default, 'coverage'):.3f}** | {seeds} | "
                 f"**{_mean(default, 'size'):.2f}** | {_mean(default, 'ece_raw'):.3f} | "
                 f"**{_mean(default, 'ece'):.3f}** | "
                 f"**{_pct(_point(default, 'overall', 'confident'))}** | "
                 f"**{_pct(_point(default, 'overall', 'confident_accuracy'))}** |")
    lines += ["", "### Variants (overall; per-class coverage: " + ", ".join(classes) + ")", "",
              "| variant | coverage | per class | set size | ECE raw → calibrated |"
              " log loss raw → calibrated | " + " | ".join(FLAGS) + " | right among confident |",
              "|---|---|---|---|---|---|" + "---|" * (len(FLAGS) + 1)]
    for name, *_ in VARIANTS:
        r = rows[name]
        pc = " / ".join(f"{v:.2f}" for v in _mean(r, "per_class"))
        fl = " | ".join(f"{100 * v:.0f} %" for v in _mean(r, "flags"))
        lines.append(f"| {name} | {_mean(r, 'coverage'):.3f} | {pc} | {_mean(r, 'size'):.2f} | "
                     f"{_mean(r, 'ece_raw'):.3f} → {_mean(r, 'ece'):.3f} | "
                     f"{_mean(r, 'll_raw'):.3f} → {_mean(r, 'll'):.3f} | {fl} | "
                     f"{_pct(_point(r, 'overall', 'confident_accuracy'))} |")
    lines += ["", "Confident: the share of photos flagged confident (one class in the set, in "
              "scope); right among confident: the share of those whose top class is the true "
              "one (the operating point: the answers a clinic can act on, and how often they "
              "are right). Per seed, then the mean over the seeds."]
    lines += ["", "### Leave-one-class-out out-of-scope detection", "",
              f"| held-out class | AUROC {OUT_OF_SCOPE} (default) | same detector on image "
              "geometry | AUROC Mahalanobis | AUROC max-probability (baseline) |"
              " held-out photos flagged out_of_scope or uncertain | of them out_of_scope |"
              " in-scope test photos flagged out_of_scope |",
              "|---|---|---|---|---|---|---|---|"]
    for c in classes:
        r = loco[c]
        lines.append(f"| {c} | {r['auc']:.3f} | {r['auc_geo']:.3f} | {r['auc_maha']:.3f} | "
                     f"{r['auc_base']:.3f} | "
                     f"{100 * r['c_flagged']:.0f} % | {100 * r['c_oos']:.0f} % | "
                     f"{100 * r['in_oos']:.0f} % |")
    m = {k: np.mean([loco[c][k] for c in classes]) for k in loco[classes[0]]}
    lines.append(f"| **mean** | **{m['auc']:.3f}** | {m['auc_geo']:.3f} | {m['auc_maha']:.3f} | "
                 f"{m['auc_base']:.3f} | "
                 f"{100 * m['c_flagged']:.0f} % | {100 * m['c_oos']:.0f} % | "
                 f"{100 * m['in_oos']:.0f} % |")
    lines += ["", f"Far out-of-scope (12 non-skin images: scikit-learn's two sample photos, "
              f"noise, gradients, checkerboards, stripes, flat colours) against the in-scope "
              f"test photos, {OUT_OF_SCOPE} score: AUROC **{np.mean(far_auc):.3f}** "
              f"(min over the 15 folds {np.min(far_auc):.3f}); flagged out_of_scope "
              f"{100 * np.mean(far_flag):.0f} %."]
    return "\n".join(lines) + "\n"


def main():
    global Y
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache",
                                                        "skin_estimators_trust_study"))
    parser.add_argument("--out", default=None,
                        help="default: results/accuracy/trust_tables.md (_<colour constancy>.md)")
    parser.add_argument("--figure", default=None,
                        help="default: docs/_static/trust/reliability.png; none with "
                             "--color-constancy")
    parser.add_argument("--color-constancy", choices=["shades_of_gray", "grey_world"])
    args = parser.parse_args()
    cc = args.color_constancy
    if args.out is None:
        args.out = os.path.join(HERE, "results", "accuracy",
                                f"trust_tables{'_' + cc if cc else ''}.md")
    if args.figure is None and cc is None:
        args.figure = os.path.join(HERE, os.pardir, "docs", "_static", "trust",
                                   "reliability.png")
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)  # a shared machine: one BLAS thread
    data = fetch_skin3()
    Y, groups = np.asarray(data.target), np.asarray(data.groups)
    classes = np.unique(Y)
    X, far = features(feature_cache(args.cache, list(data.filenames)), cc)
    global NEGATIVES
    NEGATIVES = negative_features(feature_cache(args.cache, list(data.filenames)), cc)
    t0 = time.time()
    rows, far_auc, far_flag, reliability = protocol(X, far, Y, groups, classes)
    loco = leave_one_class_out(X, Y, groups, classes)
    text = tables(rows, far_auc, far_flag, loco, classes)
    seconds = time.time() - t0
    print(text)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    machine = f"{platform.machine()}, {os.cpu_count()} cores (shared), Python " \
              f"{platform.python_version()}, 1 torch thread"
    with open(args.out, "w", encoding="utf-8") as f:
        option = f" --color-constancy {cc}" if cc else ""
        f.write(f"# Trust study tables (generated by benchmarks/trust_study.py)\n\n"
                f"`SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/trust_study.py"
                f"{option}`; "
                f"commit {commit}; {machine}; {seconds:.0f} s after the features. The "
                f"protocol and the reading are in trust.md.\n\n")
        f.write(text)
    print(f"{seconds:.0f} s after the features; commit {commit}; {machine}", file=sys.stderr)
    if args.figure is None:
        return
    from skin_estimators._internal import reliability_figure

    os.makedirs(os.path.dirname(args.figure), exist_ok=True)
    reliability_figure(Y, *reliability, list(classes), args.figure,
                       title="Recommended model, controlled protocol, out-of-fold (seed 0)")


if __name__ == "__main__":
    main()
