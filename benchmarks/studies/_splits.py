"""The controlled protocol's splits, figures and model parts, shared by the studies.

``StratifiedGroupKFold(5, shuffle=True)`` on ``fetch_skin3().groups`` (the leak-free atlas
pages), CV seeds 0, 1, 2: the splits of ``skin-estimators cv --cv controlled``. A study gives
each seed's out-of-fold predictions; :func:`macro_recalls` turns them into the library's two
averages (the mean over each seed's folds, and the macro recall of the seed's pooled
predictions), both averaged over the seeds, and the pooled recall of every class.

Also shared: the recommended model's frozen front on the controlled inputs
(:func:`front_pipeline`) and its head (:func:`head`), and photos that are not skin
(:func:`far_images`). The studies of this folder, ``benchmarks/trust_study.py`` and the
archived ones (``benchmarks/archive/``) import this module; it imports no study.
"""

import os
import time

import numpy as np
from sklearn.metrics import recall_score
from sklearn.model_selection import StratifiedGroupKFold

SEEDS = (0, 1, 2)


def splits(y, groups, seed):
    """The ``(train, test)`` index pairs of one CV seed."""
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y, groups))


def out_of_fold(predict, y, groups, seeds=SEEDS):
    """Each seed's out-of-fold predictions of ``predict(train, test)``, and its seconds.

    ``predict`` fits on the ``train`` indices and returns the labels of the ``test`` ones.
    """
    preds, seconds = [], 0.0
    for seed in seeds:
        pred = np.empty(len(y), dtype=y.dtype)
        for train, test in splits(y, groups, seed):
            t0 = time.perf_counter()
            pred[test] = predict(train, test)
            seconds += time.perf_counter() - t0
        preds.append(pred)
    return preds, seconds


def macro_recalls(preds, y, groups, classes, seeds=SEEDS):
    """Fold mean and pooled macro recall of each seed's out-of-fold predictions ``preds``.

    Returns a dict: ``fold`` and ``pooled`` (means over the seeds), ``fold_seeds`` and
    ``pooled_seeds`` (one value per seed) and ``per_class`` (pooled recall of each class,
    mean over the seeds).
    """
    fold, pooled, per_class = [], [], []
    for seed, pred in zip(seeds, preds, strict=True):
        fold.append(np.mean([recall_score(y[test], pred[test], labels=classes,
                                          average="macro", zero_division=0)
                             for _, test in splits(y, groups, seed)]))
        r = recall_score(y, pred, labels=classes, average=None, zero_division=0)
        per_class.append(r)
        pooled.append(r.mean())
    return dict(fold=float(np.mean(fold)), fold_seeds=fold, pooled=float(np.mean(pooled)),
                pooled_seeds=pooled, per_class=np.mean(per_class, axis=0))


def geometry_baseline(filenames, y, groups, seeds=SEEDS):
    """The runner's geometry shortcut baseline on these splits: :func:`macro_recalls`'s dict.

    The audit's forest, with as many trees as ``skin-estimators cv`` gives it, on the files'
    log width, height and aspect (headers only, not the pixels).
    """
    from sklearn.base import clone

    from skin_estimators._internal import BASELINES, geometry_features, shortcut_forest

    X, forest = geometry_features(filenames), shortcut_forest(BASELINES["geometry"][1])
    preds, _ = out_of_fold(lambda train, test: clone(forest).fit(X[train], y[train])
                           .predict(X[test]), y, groups, seeds)
    return macro_recalls(preds, y, groups, np.unique(y), seeds)


def load_skin3(threads=None):
    """The study's photos, with torch on ``threads`` threads (if given) and one BLAS thread.

    Returns ``(filenames, y, groups)``: the file names, labels and atlas-page groups of
    ``fetch_skin3()``, as a list and two arrays.
    """
    from threadpoolctl import threadpool_limits

    from skin_estimators import fetch_skin3

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    threadpool_limits(1)
    data = fetch_skin3()
    return list(data.filenames), np.asarray(data.target), np.asarray(data.groups)


def recall_table(rows, classes, extra=(), seeds=SEEDS):
    """A Markdown table of :func:`macro_recalls` dicts, each with its ``name``.

    The columns: the name, fold mean, the fold mean of each of ``seeds``, pooled, each
    class's pooled recall, then one column per ``(header, cell)`` of ``extra`` (``cell(row)``
    gives its text).
    """
    lines = [f"| candidate | **fold mean** | per seed {' / '.join(map(str, seeds))} | **pooled** | "
             + " | ".join(f"pooled recall {c}" for c in classes)
             + "".join(f" | {header}" for header, _ in extra) + " |",
             "|---|---|---|---|" + "---|" * (len(classes) + len(extra))]
    for r in rows:
        seeds = " / ".join(f"{v:.3f}" for v in r["fold_seeds"])
        pcs = " | ".join(f"{v:.3f}" for v in r["per_class"])
        cells = "".join(f" | {cell(r)}" for _, cell in extra)
        lines.append(f"| {r['name']} | **{r['fold']:.3f}** | {seeds} | **{r['pooled']:.3f}** "
                     f"| {pcs}{cells} |")
    return "\n".join(lines) + "\n"


def head():
    """The recommended head: StandardScaler, then a balanced LogisticRegression with C=0.01."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=0.01, class_weight="balanced", max_iter=2000))


def front_pipeline(color_constancy=None):
    """ImageLoader (controlled inputs, 224 px) -> ChannelNormalizer -> frozen PretrainedFeatures.

    The front of ``benchmarks/configs/best.yaml``'s model (``color_constancy`` its
    ``ImageLoader``'s parameter): the features of ``make_recommended_classifier()[0]`` (stage
    2-6 means and the head of EfficientNet-Lite0, image and mirror averaged).
    """
    from sklearn.pipeline import make_pipeline

    from skin_estimators import ChannelNormalizer, make_recommended_classifier
    from skin_estimators.preprocessing import CONTROLLED_INPUTS, ImageLoader

    return make_pipeline(ImageLoader(size=224, cache=False, color_constancy=color_constancy,
                                     **CONTROLLED_INPUTS),
                         ChannelNormalizer(mean="efficientnet_lite"),
                         make_recommended_classifier()[0])


def far_images(folder):
    """Photos that are not skin: scikit-learn's two sample images and synthetic textures."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(0)
    images = list(load_sample_images().images)
    yy, xx = np.mgrid[0:300, 0:400]
    for k in range(2):
        images.append(rng.randint(0, 256, (300, 400, 3)).astype(np.uint8))  # noise
        images.append(np.stack([(xx * 255 // 400), (yy * 255 // 300),
                                np.full_like(xx, 80 + 90 * k)], -1).astype(np.uint8))
        board = (((xx // (20 + 20 * k)) + (yy // (20 + 20 * k))) % 2 * 255).astype(np.uint8)
        images.append(np.stack([board] * 3, -1))
        stripes = ((np.sin(xx / (4 + 6 * k)) > 0) * 200 + 30).astype(np.uint8)
        images.append(np.stack([stripes, stripes // 2, 255 - stripes], -1))
        images.append(np.full((300, 400, 3), rng.randint(0, 256, 3), dtype=np.uint8))
    paths = []
    for i, im in enumerate(images):
        paths.append(os.path.join(folder, f"far_{i:02d}.png"))
        if not os.path.exists(paths[-1]):
            Image.fromarray(im).save(paths[-1])
    return paths
