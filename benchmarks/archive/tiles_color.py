"""Whole-photo tiles and colour constancy for the recommended model, on the controlled protocol.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/archive/tiles_color.py

The recommended model's backbone is frozen, so its features do not depend on the labels or
the fold: they are computed once per input variant for all 102 photos (``ImageLoader(tiles=k,
color_constancy=..., **CONTROLLED_INPUTS)`` -> ``ChannelNormalizer`` -> ``PretrainedFeatures
(tiles=k, tile_reduce=...)``, cached in ``--cache``) and only the head (``StandardScaler``,
``LogisticRegression(C=0.01, class_weight="balanced")``) is cross-validated:
``StratifiedGroupKFold(5, shuffle=True)`` on ``fetch_skin3().groups``, CV seeds 0, 1, 2 - the
numbers of the whole pipeline, in seconds. Beside every row: the geometry baseline and the
probes on the same inputs (corner probe, size probe, aspect probe), grouped, same splits.
Writes the table to ``benchmarks/archive/results/tiles_color_table.md`` (read in
``tiles_color.md``).
"""

import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np
from sklearn.base import clone

from skin_estimators import ChannelNormalizer, fetch_skin3, make_recommended_classifier
from skin_estimators._internal import (
    corner_features,
    cv_scores,
    file_properties,
    is_large,
    shortcut_forest,
    size_features,
)
from skin_estimators.preprocessing import CONTROLLED_INPUTS, ImageLoader

sys.path[1:1] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, folder)
                for folder in ("studies", "speed")]  # the shared _splits and _common
from _common import feature_cache  # noqa: E402 (benchmarks/speed)
from _splits import SEEDS, geometry_baseline, macro_recalls, out_of_fold  # noqa: E402 (benchmarks/studies)

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 224
#: name -> (tiles, color_constancy)
INPUTS = {
    "centre square (today)": (None, None),
    "tiles=2": (2, None),
    "tiles=3": (3, None),
    "centre square + Shades of Gray": (None, "shades_of_gray"),
    "tiles=2 + Shades of Gray": (2, "shades_of_gray"),
    "tiles=3 + Shades of Gray": (3, "shades_of_gray"),
    "centre square + grey-world": (None, "grey_world"),
    "tiles=3 + grey-world": (3, "grey_world"),
}
REDUCTIONS = ("mean", "max")


def loader(tiles, color):
    return ImageLoader(size=SIZE, cache=False, tiles=tiles, color_constancy=color,
                       **CONTROLLED_INPUTS)


def front(tiles, reduce):
    """ChannelNormalizer + the recommended model's frozen features, on strips of tiles."""
    features = clone(make_recommended_classifier()[0]).set_params(tiles=tiles,
                                                                 tile_reduce=reduce)
    from sklearn.pipeline import make_pipeline

    return make_pipeline(ChannelNormalizer(mean="efficientnet_lite"), features)


def per_tile(images, tiles):
    """Strips (n, k*h, w, 3) -> tiles (n, k, h, w, 3)."""
    k = tiles or 1
    n, height, width, _ = images.shape
    return images.reshape(n, k, height // k, width, 3)


def compute(cache, filenames):
    """Features (both reductions) and probe features of every input variant, cached."""
    os.makedirs(cache, exist_ok=True)
    out, seconds = {}, {}
    for name, (tiles, color) in INPUTS.items():
        path = os.path.join(cache, f"tiles{tiles}_{color}.npz")
        if not os.path.exists(path):
            t0 = time.time()
            images = loader(tiles, color).transform(filenames)
            t_load = time.time() - t0
            feats = {}
            for reduce in REDUCTIONS if tiles else ("mean",):
                feats[reduce] = front(tiles, reduce).fit_transform(images)
            tiles_ = per_tile(images, tiles)
            n, k = tiles_.shape[:2]
            flat = tiles_.reshape(n * k, *tiles_.shape[2:])
            corners = corner_features(flat)["all corners"].reshape(n, k, -1)
            size = size_features(flat).reshape(n, -1)
            np.savez(path, corners=corners, size=size, load=t_load, total=time.time() - t0,
                     **{f"X_{r}": v for r, v in feats.items()})
            print(f"{name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        with np.load(path) as f:
            out[name] = {k: f[k] for k in f.files}
        seconds[name] = float(out[name]["total"])
    return out, seconds


def score_head(X, y, groups, classes):
    """Fold mean and pooled macro recall of the recommended head, per-class pooled recall."""
    def predict(train, test):
        return clone(make_recommended_classifier()[1:]).fit(X[train], y[train]).predict(X[test])

    preds, fit_s = out_of_fold(predict, y, groups)
    return dict(macro_recalls(preds, y, groups, classes), head_s=fit_s)


def probe(table, target, groups, pooled):
    """A probe forest (the audit's) under grouped CV, seeds 0-2; pooled or fold-mean."""
    s = cv_scores({"t": table}, target, groups, shortcut_forest(100), ["group"], list(SEEDS))
    s = s[("t", "group")]
    return s["pooled_macro_recall"] if pooled else s["macro_recall"]


def within_class(table, target, y, groups):
    """The probe inside each class that has >= 5 photos on both sides: mean over them.

    A feature that tells the disease also tells whatever the disease's photos share (most
    lichen planus photos are large, no acne photo is): within one class, only the photo's
    own property is left to find.
    """
    scores = []
    for c in np.unique(y):
        m = y == c
        counts = np.unique(target[m], return_counts=True)[1]
        if len(counts) == 2 and counts.min() >= 5 and len(np.unique(groups[m])) >= 5:
            scores.append(probe(table[m], target[m], groups[m], pooled=True))
    return float(np.mean(scores)), len(scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache",
                                                        "skin_estimators_tiles_color"))
    parser.add_argument("--out", default=os.path.join(HERE, "results",
                                                      "tiles_color_table.md"))
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    data = fetch_skin3()
    filenames = list(data.filenames)
    y, groups = np.asarray(data.target), np.asarray(data.groups)
    classes = np.unique(y)
    t_start = time.time()
    feats, seconds = compute(feature_cache(args.cache, filenames), filenames)
    t_features = time.time() - t_start
    props, details = file_properties(filenames)
    aspect = details["width"] / details["height"]
    wide, large = aspect > 1.2, is_large(details)
    t0 = time.time()
    g = geometry_baseline(filenames, y, groups)
    geo = g["fold"], g["pooled"]
    onehot = (y[:, None] == classes[None, :]).astype(float)
    label_only = probe(onehot, wide, groups, pooled=True), probe(onehot, large, groups, True)
    rows = []
    candidates = []  # (row, features, the inputs whose pixels the probes read)
    for name, (tiles, _) in INPUTS.items():
        for reduce in REDUCTIONS if tiles else ("mean",):
            candidates.append((name if not tiles else f"{name}, {reduce}",
                               feats[name][f"X_{reduce}"], name))
    for suffix in ("", " + Shades of Gray"):  # the centre square's features beside the tiles'
        candidates.append((f"centre square and tiles=3 mean side by side{suffix}",
                           np.hstack([feats[f"centre square{' (today)' if not suffix else suffix}"]
                                      ["X_mean"], feats[f"tiles=3{suffix}"]["X_mean"]]),
                           f"tiles=3{suffix}"))
    pixel_probes = {}
    for row, X, source in candidates:
        if source not in pixel_probes:
            f, tiles = feats[source], INPUTS[source][0]
            corners = f["corners"].reshape(len(y), tiles or 1, -1)  # (photo, tile, summary)
            pixel_probes[source] = dict(
                corner=probe(corners.reshape(len(y), -1), y, groups, pooled=False),
                corner_mean=probe(corners.mean(axis=1), y, groups, pooled=False),
                size=probe(f["size"], large, groups, pooled=True),
                size_in=within_class(f["size"], large, y, groups)[0])
        r = score_head(X, y, groups, classes)
        r.update(name=row, **pixel_probes[source],
                 aspect=probe(X, wide, groups, pooled=True),
                 aspect_in=within_class(X, wide, y, groups)[0],
                 size_feat=probe(X, large, groups, pooled=True),
                 size_feat_in=within_class(X, large, y, groups)[0], seconds=seconds[source])
        rows.append(r)
        print(f"{row}: fold {r['fold']:.3f} pooled {r['pooled']:.3f} "
              f"{np.round(r['per_class'], 3)} corner {r['corner']:.3f} size {r['size']:.3f} "
              f"aspect {r['aspect']:.3f} / {r['aspect_in']:.3f}", file=sys.stderr, flush=True)
    t_cv = time.time() - t0
    lines = ["| inputs, tile reduction | **fold mean** | per seed 0 / 1 / 2 | **pooled** | "
             + " | ".join(f"pooled recall {c}" for c in classes)
             + " | corner probe, tiles side by side / averaged (chance 0.333) |"
             " size probe: all / within class (0.5) | aspect probe on the features: all /"
             " within class (0.5) | size from the features: all / within class (0.5) |"
             " features (s) | head, 15 folds (s) |",
             "|---|---|---|---|" + "---|" * len(classes) + "---|---|---|---|---|---|"]
    for r in rows:
        seeds = " / ".join(f"{v:.3f}" for v in r["fold_seeds"])
        pcs = " | ".join(f"{v:.3f}" for v in r["per_class"])
        lines.append(f"| {r['name']} | **{r['fold']:.3f}** | {seeds} | **{r['pooled']:.3f}** | "
                     f"{pcs} | {r['corner']:.3f} / {r['corner_mean']:.3f} | {r['size']:.3f} / "
                     f"{r['size_in']:.3f} | {r['aspect']:.3f} / {r['aspect_in']:.3f} | "
                     f"{r['size_feat']:.3f} / {r['size_feat_in']:.3f} | {r['seconds']:.0f} | "
                     f"{r['head_s']:.1f} |")
    lines.append(f"| *baseline: image geometry (file width, height, aspect)* | *{geo[0]:.3f}* | "
                 f"| *{geo[1]:.3f}* |" + " |" * len(classes) + " | | | | | |")
    lines.append("| *reference: the true class alone (one-hot label) as the probe's input* | | | "
                 "|" + " |" * len(classes) + f" | *{label_only[1]:.3f}* | *{label_only[0]:.3f}* "
                 f"| *{label_only[1]:.3f}* | | |")
    table = "\n".join(lines) + "\n"
    print(table)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    machine = (f"{platform.machine()}, {os.cpu_count()} cores (shared), Python "
               f"{platform.python_version()}, 1 torch thread")
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(f"<!-- generated by benchmarks/archive/tiles_color.py; commit {commit}; "
                 f"{machine}; features {t_features:.0f} s, CV and probes {t_cv:.0f} s -->\n\n")
        fh.write(table)
    print(f"features {t_features:.0f} s, CV and probes {t_cv:.0f} s; commit {commit}; "
          f"{machine}", file=sys.stderr)


if __name__ == "__main__":
    main()
