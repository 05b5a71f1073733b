"""Why the library's controlled figure of the recommended features (0.621) sat below the
plain-Pillow screening's (0.679): the same features and folds scored both ways.

usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/screening/metric_gap.py
Prints, for the library's controlled inputs and for the screening's plain-Pillow ones, the
mean over the folds of each fold's macro recall (what the runner reports) and the macro
recall of the pooled out-of-fold predictions (what the screening reported), CV seeds 0-2,
StratifiedGroupKFold(5) on the leak-free groups, LogisticRegression(C=0.01) fixed.
About a minute on one core (two sets of 204 EfficientNet-Lite0 forward passes).
"""

import os
import sys

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(__file__))
import effnet_controlled as screening  # noqa: E402

from skin_estimators import ChannelNormalizer, ImageLoader, fetch_skin3  # noqa: E402
from skin_estimators.preprocessing import CONTROLLED_INPUTS, PretrainedFeatures  # noqa: E402

torch.set_num_threads(1)


def scores(F, y, groups, seed):
    pred, per_fold = np.empty_like(y), []
    for train, test in StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(F, y, groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(
            C=0.01, class_weight="balanced", max_iter=5000)).fit(F[train], y[train])
        pred[test] = model.predict(F[test])
        per_fold.append(recall_score(y[test], pred[test], average="macro", zero_division=0))
    return float(np.mean(per_fold)), balanced_accuracy_score(y, pred)


def main():
    paths, y, groups, _ = screening.dataset()
    data = fetch_skin3()
    assert [os.path.basename(p) for p in paths] == [os.path.basename(p) for p in data.filenames]
    library_images = ImageLoader(size=224, **CONTROLLED_INPUTS).fit_transform(paths)
    pillow_images = screening.images(paths, 224)
    print(f"mean |library - plain Pillow| pixel difference: "
          f"{np.abs(library_images.astype(float) - pillow_images).mean():.2f} grey levels")
    features = {
        "library": PretrainedFeatures("efficientnet_lite0", stages=(2, 3, 4, 5, 6)).fit_transform(
            ChannelNormalizer(mean="efficientnet_lite").fit_transform(library_images)),
        "plain Pillow": screening.stage_features(paths, "lite0", 224).mean(1),
    }
    for name, F in features.items():
        fold_mean, pooled = zip(*(scores(F, y, np.asarray(data.groups), s) for s in (0, 1, 2)))
        print(f"{name:>12}: fold mean {np.round(fold_mean, 3)} -> {np.mean(fold_mean):.3f}; "
              f"pooled {np.round(pooled, 3)} -> {np.mean(pooled):.3f}")


if __name__ == "__main__":
    main()
