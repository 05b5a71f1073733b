"""The second source as a yardstick: a candidate fitted on the atlas, scored on SD-198's photos.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/studies/transfer.py \
        --configs benchmarks/configs/best_without_color_constancy.yaml benchmarks/configs/best.yaml

Protocol. Each candidate (a config) is fitted as ``skin-estimators train --config X
--test-size 0`` fits it (all 102 atlas photos, controlled inputs, the config's trust layer:
cross-conformal 0.9 sets on grouped folds, k-NN out-of-scope threshold), with a
:class:`~skin_estimators.adaptation.DomainAdapter` after the frozen features. It is scored on
the 85 photos of ``$SKIN_ESTIMATORS_DATA/sd198`` (acne 31, herpes simplex 24, lichen planus
30), which it never trains on: they reach a model only through adaptation to their pixels,
never their labels. Rows: no adaptation, then each alignment fitted on the scored photos
themselves (what ``skin-estimators evaluate MODEL sd198 --adapt`` does).

Robustness (the alignment is fitted on a different target than the scored one):

* *skewed*: 20 draws of all 31 acne + 7 herpes simplex + 6 lichen planus photos; adapted to
  and scored on those 44 (against no adaptation on the same 44), and the same adapter
  applied to all 85 (against adapting to the 85);
* *mixed*: adapted to the 85 photos with 85 photos of ``sd198_other`` (24 other conditions,
  a fixed draw), the 85 scored (against adapting to the 85 alone), and the share of the 85
  other-condition photos flagged ``out_of_scope`` (against no adaptation).

Macro recall counts every photo by its predicted class, whatever its flag. Intervals: 90 %
photo bootstrap (2000 resamples of the scored photos; the fitted model fixed, so they leave
out the training side's spread, which the controlled protocol's page bootstrap measures).
Shortcut baselines: the runner's geometry forest (file width, height, aspect) fitted on the
atlas and applied to SD-198, and cross-validated within SD-198 (5 stratified folds, seeds
0-2), which shows how much file geometry alone tells the classes apart there.

Features are computed once per config and cached in ``--cache`` (the frozen network's
output; a rerun only refits heads and alignments).
"""

import argparse
import hashlib
import os
import sys
import tempfile
import time

import numpy as np
from sklearn.metrics import recall_score

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "speed"))
from _common import header  # noqa: E402 (benchmarks/speed)

METHODS = ("standardize", "coral", "subspace", "ot")
N_BOOT = 2000


def list_files(root):
    from skin_estimators.datasets import load_image_folder

    bunch = load_image_folder(root, groups=None)
    return list(bunch.filenames), np.asarray(bunch.target)


def load_sources(data):
    """sd198 files and labels; a fixed draw of 85 sd198_other files."""
    files, y = list_files(os.path.join(data, "sd198"))
    other, _ = list_files(os.path.join(data, "sd198_other"))
    pick = np.sort(np.random.RandomState(0).choice(len(other), 85, replace=False))
    return files, y, [other[i] for i in pick]


def features(config_path, target_files, other_files, cache):
    """The trained candidate and the frozen features of the atlas, sd198 and the others."""
    from skin_estimators.experiments import fit_final, load_config, select_row

    config = load_config(config_path)
    final = fit_final(config, select_row(config), 0, random_state=42)
    model = final.model
    trusted = model.steps[-1][1]
    key = hashlib.sha256("\n".join([os.path.abspath(config_path), *map(str, final.X_train),
                                    *target_files, *other_files]).encode()).hexdigest()[:16]
    path = os.path.join(cache, f"features_{os.path.basename(config_path)}_{key}.npz")
    if os.path.exists(path):
        saved = np.load(path)
        feats = {k: saved[k] for k in ("source", "target", "other")}
    else:
        extract = lambda files: trusted.estimator_[:1].transform(model[:-1].transform(files))  # noqa: E731
        feats = {"source": extract(list(final.X_train)), "target": extract(target_files),
                 "other": extract(other_files)}
        os.makedirs(cache, exist_ok=True)
        np.savez(path, **feats)
    return final, feats


def base_model(final, feats):
    """The candidate with a DomainAdapter after its frozen features, fitted as train does."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from skin_estimators.adaptation import DomainAdapter

    trusted = final.model.steps[-1][1]
    tail = [(n, s) for n, s in trusted.estimator.steps[1:] if not isinstance(s, DomainAdapter)]
    est = Pipeline([("domainadapter", DomainAdapter())] + [(n, clone(s)) for n, s in tail])
    groups = final_groups(final)
    model = clone(trusted).set_params(estimator=est)
    return model.fit(feats["source"], final.y_train, groups=groups)


def final_groups(final):
    from skin_estimators import fetch_skin3

    data = fetch_skin3()
    page = dict(zip(map(str, data.filenames), data.groups, strict=True))
    return np.asarray([page[str(f)] for f in final.X_train])


def score(model, T, y, classes):
    """Figures of one fitted model on features ``T`` with labels ``y`` (plus per-photo rows)."""
    out = model.predict_all(T)
    pred, sets, flag = out["pred"], out["sets"], out["flag"]
    idx = np.searchsorted(classes, y)
    covered = sets[np.arange(len(y)), idx]
    confident = flag == "confident"
    rec = recall_score(y, pred, labels=classes, average=None, zero_division=0)
    return dict(macro=float(rec.mean()), per_class=rec, pred=pred, covered=covered,
                confident=float(confident.mean()),
                conf_acc=float((pred[confident] == y[confident]).mean()) if confident.any()
                else float("nan"),
                coverage=float(covered.mean()),
                class_cov=np.array([covered[y == c].mean() for c in classes]),
                size=float(sets.sum(axis=1).mean()), oos=float((flag == "out_of_scope").mean()))


def bootstrap(y, pred, classes, seed=0):
    """90 % photo-bootstrap intervals of the macro recall and of each class's recall."""
    rng = np.random.RandomState(seed)
    macro, per = [], []
    for _ in range(N_BOOT):
        i = rng.randint(0, len(y), len(y))
        r = recall_score(y[i], pred[i], labels=classes, average=None, zero_division=0)
        macro.append(r.mean())
        per.append(r)
    lo, hi = np.percentile(macro, [5, 95])
    plo, phi = np.percentile(per, [5, 95], axis=0)
    return (lo, hi), list(zip(plo, phi, strict=True))


def adapted(model, T, method, keys=None):
    from skin_estimators.adaptation import adapt_model

    t0 = time.perf_counter()
    out = adapt_model(model, T, method=method, keys=keys)
    return out, time.perf_counter() - t0


def geometry_rows(target_files, y, classes):
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from skin_estimators import fetch_skin3
    from skin_estimators._internal import BASELINES, geometry_features, shortcut_forest

    forest = shortcut_forest(BASELINES["geometry"][1])
    atlas = fetch_skin3()
    G, Gt = geometry_features(list(atlas.filenames)), geometry_features(target_files)
    pred = clone(forest).fit(G, np.asarray(atlas.target)).predict(Gt)
    transfer = recall_score(y, pred, labels=classes, average=None, zero_division=0)
    within = []
    for seed in (0, 1, 2):
        p = np.empty_like(y)
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(Gt, y):
            p[te] = clone(forest).fit(Gt[tr], y[tr]).predict(Gt[te])
        within.append(recall_score(y, p, labels=classes, average=None, zero_division=0))
    return transfer, np.mean(within, axis=0)


def fmt_ci(v, ci):
    return f"{v:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def run_candidate(config_path, data, cache, draws, lines, csv_rows):
    files, y, other_files = load_sources(data)
    final, feats = features(config_path, files, other_files, cache)
    model = base_model(final, feats)
    classes = model.classes_
    T, other = feats["target"], feats["other"]
    name = os.path.splitext(os.path.basename(config_path))[0]
    lines.append(f"\n## {name}\n")
    lines.append("Scored on the 85 sd198 photos; adapted rows fitted on those photos' pixels "
                 "(no labels). Intervals: 90 % photo bootstrap.\n")
    lines.append("| adaptation | macro recall | " + " | ".join(f"recall {c}" for c in classes)
                 + " | confident | right among confident | coverage | coverage per class "
                 "| mean set size | adapt (s) |")
    lines.append("|---" * (8 + len(classes)) + "|")
    ref = {}
    for method in (None, *METHODS):
        if method is None:
            m, secs = model, 0.0
        else:
            m, secs = adapted(model, T, method)
        r = score(m, T, y, classes)
        ref[method] = r
        ci, pci = bootstrap(y, r["pred"], classes)
        per = " | ".join(fmt_ci(v, c) for v, c in zip(r["per_class"], pci, strict=True))
        lines.append(f"| {method or 'none'} | **{fmt_ci(r['macro'], ci)}** | {per} | "
                     f"{r['confident']:.2f} | {r['conf_acc']:.3f} | {r['coverage']:.3f} | "
                     + " / ".join(f"{v:.2f}" for v in r["class_cov"])
                     + f" | {r['size']:.2f} | {secs:.1f} |")
        csv_rows.append([name, "sd198", method or "none", f"{r['macro']:.4f}",
                         *[f"{v:.4f}" for v in r["per_class"]], f"{r['confident']:.4f}",
                         f"{r['conf_acc']:.4f}", f"{r['coverage']:.4f}", f"{r['size']:.4f}"])
        print(lines[-1], flush=True)
    # skewed targets: all acne, 7 herpes, 6 lichen
    rng = np.random.RandomState(0)
    by = {c: np.flatnonzero(y == c) for c in classes}
    counts = {"acne": 31, "herpes_simplex": 7, "lichen_planus": 6}
    draw_idx = [np.sort(np.concatenate([rng.choice(by[c], counts[c], replace=False)
                                        for c in classes])) for _ in range(draws)]
    lines.append(f"\n**Skewed target** ({draws} draws of 31 acne + 7 herpes simplex + 6 lichen "
                 "planus): mean macro recall on the 44 drawn photos, adapted to them, against no "
                 "adaptation on the same photos; and the adapter fitted on the 44 applied to all "
                 "85, against adapting to the 85. Mixed target: adapted to the 85 with 85 "
                 "sd198_other photos, the 85 scored against adapting to the 85 alone; out of "
                 "scope: share of those 85 other-condition photos flagged out_of_scope "
                 "(none: without adaptation).\n")
    lines.append("| adaptation | skewed: on the 44 | change vs none | skewed adapter on the 85 "
                 "| change vs adapted to 85 | mixed: on the 85 | change vs adapted to 85 | "
                 "others out of scope |")
    lines.append("|---" * 8 + "|")
    none_skew = np.mean([score(model, T[i], y[i], classes)["macro"] for i in draw_idx])
    none_oos = score(model, other, np.full(len(other), classes[0]), classes)["oos"]
    lines.append(f"| none | {none_skew:.3f} | | {ref[None]['macro']:.3f} | | "
                 f"{ref[None]['macro']:.3f} | | {none_oos:.2f} |")
    for method in METHODS:
        on44, on85 = [], []
        for i in draw_idx:
            m, _ = adapted(model, T[i], method)
            on44.append(score(m, T[i], y[i], classes)["macro"])
            on85.append(score(m, T, y, classes)["macro"])
        mixed, _ = adapted(model, np.vstack([T, other]), method)
        rm = score(mixed, T, y, classes)
        oos = score(mixed, other, np.full(len(other), classes[0]), classes)["oos"]
        a44, a85 = np.mean(on44), np.mean(on85)
        lines.append(f"| {method} | {a44:.3f} | {a44 - none_skew:+.3f} | {a85:.3f} | "
                     f"{a85 - ref[method]['macro']:+.3f} | {rm['macro']:.3f} | "
                     f"{rm['macro'] - ref[method]['macro']:+.3f} | {oos:.2f} |")
        csv_rows.append([name, "skewed44", method, f"{a44:.4f}"])
        csv_rows.append([name, "skewed_on85", method, f"{a85:.4f}"])
        csv_rows.append([name, "mixed", method, f"{rm['macro']:.4f}", f"oos={oos:.4f}"])
        print(lines[-1], flush=True)
    return files, y, classes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=[
        os.path.join(HERE, os.pardir, "configs", "best_without_color_constancy.yaml"),
        os.path.join(HERE, os.pardir, "configs", "best.yaml")])
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(),
                                                           "skin_estimators_transfer"))
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(HERE, os.pardir, "results", "accuracy",
                                                      "transfer.md"))
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    data = os.environ["SKIN_ESTIMATORS_DATA"]
    lines = ["# Transfer to a second source: SD-198 (with and without adaptation)\n",
             "Made by `benchmarks/studies/transfer.py` (protocol in its docstring): each "
             "candidate fitted on all 102 atlas photos as `train --config X --test-size 0`, "
             "scored on the 85 `sd198` photos it never trains on.\n", header() + "\n"]
    csv_rows = []
    t0 = time.perf_counter()
    for config in args.configs:
        files, y, classes = run_candidate(config, data, args.cache, args.draws, lines, csv_rows)
    transfer, within = geometry_rows(files, y, classes)
    lines.append("\n## Shortcut baseline: file geometry\n")
    lines.append("| baseline | macro recall | " + " | ".join(f"recall {c}" for c in classes)
                 + " |")
    lines.append("|---" * (2 + len(classes)) + "|")
    for label, r in (("geometry forest fitted on the atlas, applied to sd198", transfer),
                     ("geometry forest cross-validated within sd198 (5 folds, seeds 0-2)",
                      within)):
        lines.append(f"| {label} | {r.mean():.3f} | " + " | ".join(f"{v:.3f}" for v in r) + " |")
    lines.append(f"\nTotal {time.perf_counter() - t0:.0f} s.\n")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.splitext(args.out)[0] + ".csv", "w", encoding="utf-8") as f:
        f.write("candidate,target,adaptation,macro_recall,...\n")
        f.write("\n".join(",".join(map(str, r)) for r in csv_rows) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
