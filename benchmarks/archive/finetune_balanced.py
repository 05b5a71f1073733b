"""Partial fine-tuning with class-balanced oversampling, random resized crops, several seeds.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/archive/finetune_balanced.py --threads 2

One recipe, fixed before any fold was seen: EfficientNet-Lite0 with only stages 5-6, the final
1x1 convolution and the head trained (``trainable_stages=2``; the recipe of
``ensemble.py finetune --recipe partial``), on the controlled 224 px inputs with Shades of Gray,
and with what that recipe lacked:

* **class-balanced oversampling** (imbalanced-learn's ``RandomOverSampler`` on the training
  fold, ``class_weight=None``; see the user guide's "Class imbalance"): every epoch shows
  the herpes simplex photos as often as the others, each time with other random draws of
  the augmentations;
* **random resized crops** (``augment=[..., "resized_crop", ...]``, 35-100 % of the area)
  instead of the small affine jitter, with flips, 90-degree rotations and colour jitter;
* **three seeds per fold** (``random_state = 1000 m + CV seed``, m = 0, 1, 2), their class
  probabilities averaged: a soft vote of networks that differ only by their random draws.

The splits are the controlled protocol's (``_splits.py``; ``--cv-seeds`` runs and scores a
subset of CV seeds 0, 1, 2: 15 fits per CV seed, 95-110 s each with 2 torch threads on 2
shared cores when little else ran). Each CV seed's out-of-fold
probabilities are cached, one file per CV seed and model seed. The table gives the first
model seed alone, the three-seed vote, the frozen probe on the same inputs (the recommended
head on the recommended features with Shades of Gray) and the vote of the probe with the
fine-tuned networks, with the geometry baseline; fit and predict times are per fold.
"""

import argparse
import os
import sys
import time

import numpy as np
from imblearn.over_sampling import RandomOverSampler
from sklearn.base import clone

sys.path[1:1] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, folder)
                for folder in ("studies", "speed")]  # the shared _splits and _common
from _common import commit, feature_cache, machine  # noqa: E402 (benchmarks/speed)
from _splits import SEEDS, geometry_baseline, load_skin3, macro_recalls, recall_table, splits  # noqa: E402 (benchmarks/studies)

from skin_estimators import (
    ChannelNormalizer,
    EfficientNetLiteClassifier,
    make_recommended_classifier,
)
from skin_estimators.preprocessing import CONTROLLED_INPUTS, ImageLoader

HERE = os.path.dirname(os.path.abspath(__file__))
COLOR = "shades_of_gray"
MODEL_SEEDS = (0, 1, 2)
#: Fixed before any fold was seen.
RECIPE = dict(variant="lite0", trainable_stages=2, max_epochs=15, lr=0.01,
              optimizer__momentum=0.9, batch_size=16, schedule="constant",
              augment=["hflip", "vflip", "rot90", "resized_crop", "color"],
              class_weight=None, tta="hflip")


def images(cache, filenames):
    path = os.path.join(cache, "images.npz")
    if not os.path.exists(path):
        raw = ImageLoader(size=224, cache=False, color_constancy=COLOR,
                          **CONTROLLED_INPUTS).transform(filenames)
        np.savez(path, X=ChannelNormalizer(mean="efficientnet_lite").fit_transform(raw))
    with np.load(path) as f:
        return f["X"]


def finetuned(cache, X, y, groups, seed, m):
    """Out-of-fold probabilities of model seed ``m`` on CV seed ``seed``; fit/predict s."""
    path = os.path.join(cache, f"finetune_seed{seed}_model{m}.npz")
    if not os.path.exists(path):
        classes = np.unique(y)
        proba = np.zeros((len(y), len(classes)), dtype=np.float32)
        fit_s, predict_s = [], []
        for k, (train, test) in enumerate(splits(y, groups, seed)):
            state = 1000 * m + seed
            clf = EfficientNetLiteClassifier(random_state=state, device="cpu", verbose=0,
                                             **RECIPE)
            t0 = time.perf_counter()
            # Oversample indices (a 2-D column), not the images: no copy of the arrays.
            idx, _ = RandomOverSampler(random_state=state).fit_resample(
                train.reshape(-1, 1), y[train])
            clf.fit(X[idx.ravel()], y[idx.ravel()])
            fit_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            proba[test] = clf.predict_proba(X[test])
            predict_s.append(time.perf_counter() - t0)
            print(f"CV seed {seed}, model seed {m}, fold {k}: fit {fit_s[-1]:.0f} s",
                  file=sys.stderr, flush=True)
        np.savez(path, proba=proba, fit_s=fit_s, predict_s=predict_s)
    with np.load(path) as f:
        return f["proba"], float(np.mean(f["fit_s"])), float(np.mean(f["predict_s"]))


def probe(features, y, groups, seed):
    """Out-of-fold probabilities of the recommended head on frozen features."""
    proba = np.zeros((len(y), len(np.unique(y))))
    for train, test in splits(y, groups, seed):
        head = clone(make_recommended_classifier()[1:]).fit(features[train], y[train])
        proba[test] = head.predict_proba(features[test])
    return proba


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache",
                                                        "skin_estimators_finetune_balanced"))
    parser.add_argument("--out", default=os.path.join(HERE, "results",
                                                      "finetune_balanced_table.md"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cv-seeds", type=int, nargs="+", default=list(SEEDS),
                        help="CV seeds to run and score (default: 0 1 2)")
    args = parser.parse_args()
    seeds = tuple(args.cv_seeds)
    filenames, y, groups = load_skin3(args.threads)
    classes = np.unique(y)
    cache = feature_cache(args.cache, filenames)
    os.makedirs(cache, exist_ok=True)
    X = images(cache, filenames)
    features = make_recommended_classifier()[0].fit_transform(X)  # frozen: no labels
    ft = {m: [] for m in MODEL_SEEDS}
    fit_s, predict_s = [], []
    for seed in seeds:
        for m in MODEL_SEEDS:
            p, f, q = finetuned(cache, X, y, groups, seed, m)
            ft[m].append(p)
            fit_s.append(f)
            predict_s.append(q)
    probes = [probe(features, y, groups, seed) for seed in seeds]
    vote = [np.mean([ft[m][i] for m in MODEL_SEEDS], axis=0) for i in range(len(seeds))]
    rows = {
        "recommended head on the recommended features + Shades of Gray (frozen probe)": probes,
        "fine-tuned, model seed 0 alone": ft[0],
        "**fine-tuned, soft vote of the 3 model seeds**": vote,
        "**soft vote: frozen probe + the 3 fine-tuned seeds (probe weight 1/2)**":
            [(a + b) / 2 for a, b in zip(probes, vote, strict=True)],
    }
    scored = [dict(macro_recalls([classes[p.argmax(1)] for p in probas], y, groups, classes,
                                 seeds), name=name) for name, probas in rows.items()]
    g = geometry_baseline(filenames, y, groups, seeds)
    scored.append(dict(g, name="*baseline: image geometry (file width, height, aspect; not "
                               "the pixels)*"))
    table = recall_table(scored, classes, seeds=seeds)
    note = (f"\nOne fine-tuned network: fit {np.mean(fit_s):.0f} s per fold (about 82 photos "
            f"oversampled to about 110, 15 epochs), predict {np.mean(predict_s):.1f} s per "
            f"fold (about 20 photos and their mirrors), {args.threads} torch thread(s); the "
            "three-seed vote costs three times that.\n")
    print(table + note)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(f"<!-- generated by benchmarks/archive/finetune_balanced.py; commit "
                 f"{commit(ignore=args.out)}; {machine()}; {args.threads} torch thread(s); "
                 f"CV seed(s) {' '.join(map(str, seeds))} -->\n\n")
        fh.write(table + note)


if __name__ == "__main__":
    main()
