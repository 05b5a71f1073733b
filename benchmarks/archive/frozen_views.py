"""Frozen EfficientNet-Lite0 features: input size, spatial pooling and augmented views.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/archive/frozen_views.py

The recommended model's backbone is frozen, so every feature below is computed once per
photo and view, for all 102 photos, with one forward pass that keeps each stage's output
and pools it several ways (cached in ``--cache``). Only the head is cross-validated, on the
controlled protocol's splits: ``StratifiedGroupKFold(5, shuffle=True)`` on
``fetch_skin3().groups``, CV seeds 0, 1, 2, the same splits as ``tiles_color.py`` and
``ensemble.py``. Every candidate tried is a row of the table; none is chosen on these
numbers alone (they are the test folds).

Candidates:

* **input size** of the controlled centre square: 224 (recommended), 298 (the common pixel
  scale itself, no down-sampling), 384;
* **pooling** of stages 2-6 and of the head: global mean (recommended), global max, GeM
  (p = 3, on the head's non-negative activations);
* **augmented views** for the head: every training photo is also seen as views of its
  controlled 298 px square (the four corner 224 px crops, rotations by 90, 180 and 270
  degrees, and the whole photo's three tiles), each view one training row; a test photo's
  probabilities are averaged over the same views;
* **colour constancy** (Shades of Gray, p = 6) on all of the above;
* **other heads** on the 224 px features: shrinkage LDA, an RBF SVM, L2 normalisation or a
  whitened PCA before the recommended logistic regression;
* **multi-scale soft votes**, and two **nested** rows that choose the input size and colour
  constancy (and the votes) by an inner grouped CV inside each training fold: what choosing
  among these candidates is worth, measured without the test folds.
"""

import argparse
import os
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators.preprocessing import CONTROLLED_INPUTS, ImageLoader

sys.path[1:1] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, folder)
                for folder in ("studies", "speed")]  # the shared _splits and _common
from _common import commit, feature_cache, machine  # noqa: E402 (benchmarks/speed)
from _frozen import STAGES, TIMES, network, normalise, predict_nested, predict_one, score  # noqa: E402 (here)
from _splits import load_skin3, recall_table  # noqa: E402 (benchmarks/studies)

HERE = os.path.dirname(os.path.abspath(__file__))
POOLS = ("mean", "max", "gem")
SIZES = (224, 298, 384, 448, 512)


def other_heads():
    """Heads tried instead of the recommended one, on the 224 px features."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.preprocessing import Normalizer
    from sklearn.svm import SVC

    lr = dict(C=0.01, class_weight="balanced", max_iter=2000)
    return {
        "LDA, Ledoit-Wolf shrinkage": lambda: make_pipeline(
            StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")),
        "LDA, shrinkage, equal priors": lambda: make_pipeline(
            StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto",
                                                         priors=[1 / 3] * 3)),
        "RBF SVM (C=1, balanced)": lambda: make_pipeline(
            StandardScaler(), SVC(C=1, class_weight="balanced", probability=True,
                                  random_state=0)),
        "L2 normalisation, then the recommended head": lambda: make_pipeline(
            Normalizer(), StandardScaler(), LogisticRegression(**lr)),
        "PCA (32, whitened), then the recommended head": lambda: make_pipeline(
            StandardScaler(), PCA(32, whiten=True, random_state=0), LogisticRegression(**lr)),
    }


def pooled_forward(model, images, batch_size=8):
    """(n, 3, h, w) normalised float32 -> {pool: (n, 2024)} for the image and its mirror."""
    import torch

    out = {p: [] for p in POOLS}
    model = model.to(memory_format=torch.channels_last)
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        x = torch.cat([x, x.flip(3)]).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            t = model.bn1(model.conv_stem(x))
            stages = []
            for i, stage in enumerate(model.blocks):
                t = stage(t)
                if i in STAGES:
                    stages.append(t)
            h = model.bn2(model.conv_head(t))  # ReLU6 inside bn2: non-negative
            for p in POOLS:
                if p == "mean":
                    parts = [s.mean((2, 3)) for s in stages] + [h.mean((2, 3))]
                elif p == "max":
                    parts = [s.amax((2, 3)) for s in stages] + [h.amax((2, 3))]
                else:  # GeM on the head only; stage outputs can be negative: their means
                    parts = [s.mean((2, 3)) for s in stages]
                    parts.append(h.clamp(min=1e-6).pow(3).mean((2, 3)).pow(1 / 3))
                f = torch.cat(parts, 1).float().numpy()
                n = len(f) // 2
                out[p].append((f[:n] + f[n:]) / 2)
    return {p: np.concatenate(v) for p, v in out.items()}


def square_views(square):
    """Controlled 298 px squares (n, 298, 298, 3) -> views (n, 8, 224, 224, 3) uint8."""
    from PIL import Image

    views = []
    for img in square:
        s, c = img.shape[0], 224
        pil = Image.fromarray(img)
        whole = np.asarray(pil.resize((c, c), Image.BILINEAR))
        crops = [img[:c, :c], img[:c, s - c:], img[s - c:, :c], img[s - c:, s - c:]]
        rots = [np.rot90(whole, k) for k in (1, 2, 3)]
        views.append(np.stack([whole, *crops, *rots]))
    return np.stack(views)


def compute(cache, filenames, model):
    os.makedirs(cache, exist_ok=True)
    out = {}

    def cached(name, make):
        path = os.path.join(cache, f"{name}.npz")
        if not os.path.exists(path):
            t0 = time.time()
            arrays = make()
            np.savez(path, seconds=time.time() - t0, **arrays)
            print(f"{name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        with np.load(path) as f:
            out[name] = {k: f[k] for k in f.files}

    for color in (None, "shades_of_gray"):
        tag = color or "plain"
        for size in SIZES:
            cached(f"centre{size}_{tag}", lambda size=size, color=color: pooled_forward(
                model, normalise(ImageLoader(size=size, cache=False, color_constancy=color,
                                             **CONTROLLED_INPUTS).transform(filenames))))

        def views(color=color):
            square = ImageLoader(size=298, cache=False, color_constancy=color,
                                 **CONTROLLED_INPUTS).transform(filenames)
            v = square_views(square)
            strips = ImageLoader(size=224, cache=False, color_constancy=color, tiles=3,
                                 **CONTROLLED_INPUTS).transform(filenames)
            tiles = strips.reshape(len(filenames), 3, 224, 224, 3)
            v = np.concatenate([v, tiles], axis=1)  # (n, 11, 224, 224, 3)
            n, k = v.shape[:2]
            f = pooled_forward(model, normalise(v.reshape(n * k, 224, 224, 3)))
            return {p: a.reshape(n, k, -1) for p, a in f.items()}

        cached(f"views_{tag}", views)
    return out


VIEW_SETS = {  # indices into the 11 views: whole, 4 corner crops, 3 rotations, 3 tiles
    "whole + corner crops": [0, 1, 2, 3, 4],
    "whole + rotations": [0, 5, 6, 7],
    "whole + crops + rotations": list(range(8)),
    "whole + tiles": [0, 8, 9, 10],
    "all 11 views": list(range(11)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache",
                                                        "skin_estimators_frozen_views"))
    parser.add_argument("--out", default=os.path.join(HERE, "results",
                                                      "frozen_views_table.md"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    filenames, y, groups = load_skin3(args.threads)
    classes = np.unique(y)
    t0 = time.time()
    feats = compute(feature_cache(args.cache, filenames), filenames, network())
    t_features = time.time() - t0
    rows = []

    def row(name, predict, seconds):
        r = score(predict, y, groups, classes)
        r.update(name=name, seconds=seconds)
        rows.append(r)
        print(f"{name}: fold {r['fold']:.3f} pooled {r['pooled']:.3f} "
              f"{np.round(r['per_class'], 3)}", file=sys.stderr, flush=True)

    def seconds(*names):
        return sum(float(feats[n]["seconds"]) for n in names)

    for tag, label in (("plain", ""), ("shades_of_gray", " + Shades of Gray")):
        for size in SIZES:
            f = feats[f"centre{size}_{tag}"]
            for p in POOLS:
                row(f"centre square {size} px, {p} pooling{label}", predict_one([f[p]]),
                    seconds(f"centre{size}_{tag}"))
        v = feats[f"views_{tag}"]
        for name, idx in VIEW_SETS.items():
            for p in ("mean", "max"):
                row(f"views: {name} (224 px), {p} pooling{label}",
                    predict_one([v[p][:, idx]]), seconds(f"views_{tag}"))
        for name, make_head in other_heads().items():
            row(f"centre square 224 px, mean pooling{label}, head: {name}",
                predict_one([feats[f"centre224_{tag}"]["mean"]], make_head),
                seconds(f"centre224_{tag}"))
        for pair in ((224, 384), (224, 448), (384, 448), (224, 384, 512)):
            names = [f"centre{s}_{tag}" for s in pair]
            row(f"soft vote of the centre square at {' + '.join(map(str, pair))} px, mean "
                f"pooling{label}", predict_one([feats[n]["mean"] for n in names]),
                seconds(*names))
    candidates = {f"{s} px{' + SoG' if t != 'plain' else ''}": feats[f"centre{s}_{t}"]["mean"]
                  for t in ("plain", "shades_of_gray") for s in SIZES}
    chosen = {}
    row("**nested: input size and colour constancy chosen by an inner grouped CV** (centre "
        "square, mean pooling; 10 candidates)",
        predict_nested({k: [v] for k, v in candidates.items()}, chosen),
        seconds(*[f"centre{s}_{t}" for t in ("plain", "shades_of_gray") for s in SIZES]))
    print(f"nested choices over the 15 outer folds: {chosen}", file=sys.stderr, flush=True)
    votes = {}
    for t in ("plain", "shades_of_gray"):
        for pair in ((224, 384), (224, 448), (384, 448)):
            votes[f"vote {'+'.join(map(str, pair))}{' + SoG' if t != 'plain' else ''}"] = [
                feats[f"centre{s}_{t}"]["mean"] for s in pair]
    chosen_votes = {}
    row("**nested: the same 10 candidates and the 6 two-size soft votes, chosen by an inner "
        "grouped CV**", predict_nested({**{k: [v] for k, v in candidates.items()}, **votes},
                                       chosen_votes),
        seconds(*[f"centre{s}_{t}" for t in ("plain", "shades_of_gray") for s in SIZES]))
    print(f"nested choices with votes: {chosen_votes}", file=sys.stderr, flush=True)
    table = recall_table(rows, classes, TIMES)
    print(table)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(f"<!-- generated by benchmarks/archive/frozen_views.py; "
                 f"commit {commit(ignore=args.out)}; "
                 f"{machine()}; {args.threads} torch thread(s); features {t_features:.0f} s "
                 f"-->\n\n")
        fh.write(table)
        for label, counts in (("", chosen), (" (with the votes)", chosen_votes)):
            fh.write(f"\nNested choices over the 15 outer folds{label}: "
                     f"{', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}\n")


if __name__ == "__main__":
    main()
