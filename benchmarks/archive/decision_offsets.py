"""Per-class decision offsets for macro recall, chosen by an inner grouped CV.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/archive/decision_offsets.py

The recommended head (StandardScaler, LogisticRegression C=0.01, balanced) predicts the arg
max of its probabilities. Macro recall weighs the 16 herpes simplex photos as much as the 40
acne ones, and the balanced weights do not make the arg max the rule that maximises it on new
photos. This study adds one log-probability offset per class (acne's fixed at 0; herpes
simplex and lichen planus on a grid from -1.5 to 1.5) and picks them inside each training
fold: out-of-fold probabilities of an inner ``StratifiedGroupKFold(5)`` on the training part's
atlas pages, the offsets with the best inner pooled macro recall (ties: the smallest offsets),
then the head refitted on the whole training part. The outer splits are the controlled
protocol's (``_splits.py``); the features are the recommended ones (and with Shades of Gray),
read from ``texture_colour.py``'s cache, so run that first.
"""

import argparse
import itertools
import os
import sys

import numpy as np
from sklearn.base import clone
from sklearn.metrics import recall_score

sys.path[1:1] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, folder)
                for folder in ("studies", "speed")]  # the shared _splits and _common
from _common import commit, feature_cache, machine  # noqa: E402 (benchmarks/speed)
from _splits import geometry_baseline, head, load_skin3, macro_recalls, out_of_fold, splits  # noqa: E402 (benchmarks/studies)

HERE = os.path.dirname(os.path.abspath(__file__))
GRID = np.linspace(-1.5, 1.5, 13)


def choose_offsets(X, y, groups):
    """Offsets (one per class, the first 0) maximising inner out-of-fold macro recall."""
    classes = np.unique(y)
    logp = np.empty((len(y), len(classes)))
    for train, test in splits(y, groups, seed=0):
        model = clone(head()).fit(X[train], y[train])
        logp[test] = np.log(np.clip(model.predict_proba(X[test]), 1e-12, None))
    best, best_key = None, None
    for rest in itertools.product(GRID, repeat=len(classes) - 1):
        offsets = np.array((0.0, *rest))
        pred = classes[(logp + offsets).argmax(axis=1)]
        key = (recall_score(y, pred, average="macro", zero_division=0), -np.abs(offsets).sum())
        if best_key is None or key > best_key:
            best, best_key = offsets, key
    return best


def predict_with_offsets(X, y, groups, chosen):
    def predict(train, test):
        offsets = choose_offsets(X[train], y[train], groups[train])
        chosen.append(offsets)
        model = clone(head()).fit(X[train], y[train])
        logp = np.log(np.clip(model.predict_proba(X[test]), 1e-12, None))
        return model.classes_[(logp + offsets).argmax(axis=1)]
    return predict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache",
                                                        "skin_estimators_texture_colour"))
    parser.add_argument("--out", default=os.path.join(HERE, "results",
                                                      "decision_offsets_table.md"))
    args = parser.parse_args()
    filenames, y, groups = load_skin3()
    classes = np.unique(y)
    cache = feature_cache(args.cache, filenames)  # texture_colour.py's
    lines = ["| candidate | **fold mean** | per seed 0 / 1 / 2 | **pooled** | "
             + " | ".join(f"pooled recall {c}" for c in classes)
             + " | offsets " + " / ".join(classes) + " (mean over the 15 folds) |",
             "|---|---|---|---|" + "---|" * len(classes) + "---|"]
    for tag, label in (("plain", ""), ("shades_of_gray", " + Shades of Gray")):
        with np.load(os.path.join(cache, f"centre224_{tag}.npz")) as f:
            X = f["mean"]
        for rule in ("arg max (recommended)", "offsets chosen by inner grouped CV"):
            chosen = []
            if rule.startswith("arg max"):
                def predict(train, test, X=X):
                    return clone(head()).fit(X[train], y[train]).predict(X[test])
            else:
                predict = predict_with_offsets(X, y, groups, chosen)
            preds, _ = out_of_fold(predict, y, groups)
            r = macro_recalls(preds, y, groups, classes)
            off = " / ".join(f"{v:+.2f}" for v in np.mean(chosen, axis=0)) if chosen else "0"
            seeds = " / ".join(f"{v:.3f}" for v in r["fold_seeds"])
            pcs = " | ".join(f"{v:.3f}" for v in r["per_class"])
            lines.append(f"| recommended features (224 px){label}, {rule} | **{r['fold']:.3f}** "
                         f"| {seeds} | **{r['pooled']:.3f}** | {pcs} | {off} |")
            print(lines[-1], file=sys.stderr, flush=True)
    g = geometry_baseline(filenames, y, groups)
    lines.append(f"| *baseline: image geometry (file width, height, aspect; not the pixels)* | "
                 f"*{g['fold']:.3f}* | | *{g['pooled']:.3f}* |" + " |" * len(classes) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(f"<!-- generated by benchmarks/archive/decision_offsets.py; "
                 f"commit {commit(ignore=args.out)}; "
                 f"{machine()} -->\n\n")
        fh.write(table)


if __name__ == "__main__":
    main()
