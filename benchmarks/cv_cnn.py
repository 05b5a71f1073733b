"""The main job: the study's 5-fold cross-validation of the vanilla CNN, with its report.

Usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/cv_cnn.py [--size 400] [--epochs 26]

Prints the macro recall of each fold, its mean and std, and the clinical report (scikit-learn's
and imbalanced-learn's) over the out-of-fold predictions of all 102 images.
"""

import argparse
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import recall_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier, fetch_skin3
from skin_estimators.metrics import clinical_report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400, help="image side in pixels (study: 400)")
    parser.add_argument("--epochs", type=int, default=26, help="training epochs (study: 26)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42, help="CV shuffling seed (study: 42)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (= cores)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    data = fetch_skin3()
    pipe = make_pipeline(
        ImageLoader(size=args.size),
        ChannelNormalizer(),
        VanillaCNNClassifier(max_epochs=args.epochs, random_state=0),
    )
    cv = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    oof = np.empty_like(data.target)
    recalls = []
    start = time.perf_counter()
    for fold, (train, test) in enumerate(cv.split(data.filenames, data.target)):
        t0 = time.perf_counter()
        model = clone(pipe).fit(data.filenames[train], data.target[train])
        oof[test] = model.predict(data.filenames[test])
        recalls.append(recall_score(data.target[test], oof[test], average="macro"))
        print(f"fold {fold}: macro recall {recalls[-1]:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\nmacro recall {np.mean(recalls):.3f} ± {np.std(recalls):.3f} over {args.folds} folds "
          f"(study: 0.731); {time.perf_counter() - start:.0f} s in all\n")
    print(clinical_report(data.target, oof))


if __name__ == "__main__":
    main()
