"""The study's 5-fold cross-validation of the scattering network (BatchNorm + linear top).

Usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/studies/cv_scattering.py [--frozen]
       [--size 400] [--epochs 22] [--lr 0.0091] [--lr-scattering 0.1] [--top linear]

The study's setting: images resized to 400x400 and normalised with the study's fixed mean
and std, J=2, L=8, batch 4, SGD lr 0.0091, 22 epochs, random horizontal flips, class-weighted
loss, StratifiedKFold(5, shuffle=True, random_state=42). ``--frozen``: kymatio's fixed
wavelets, coefficients computed once per image and mirror (cached across folds). Prints each
fold's macro recall and time, the mean and std, the total wall time and the clinical report.
"""

import argparse
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import recall_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    ScatteringClassifier,
    feature_cache_info,
    fetch_skin3,
)
from skin_estimators.metrics import clinical_report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frozen", action="store_true", help="fixed (kymatio) wavelets")
    parser.add_argument("--size", type=int, default=400, help="image side in pixels (study: 400)")
    parser.add_argument("--epochs", type=int, default=22, help="training epochs (study: 22)")
    parser.add_argument("--lr", type=float, default=0.0091)
    parser.add_argument("--lr-scattering", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--top", default="linear", choices=["linear", "wrn"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42, help="CV shuffling seed (study: 42)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (= cores)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    data = fetch_skin3()
    clf = ScatteringClassifier(
        learnable=not args.frozen,
        top=args.top,
        lr=args.lr,
        lr_scattering=args.lr_scattering,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        random_state=0,
    )
    pipe = make_pipeline(ImageLoader(size=args.size), ChannelNormalizer(mean="study"), clf)
    cv = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    oof = np.empty_like(data.target)
    recalls = []
    start, cpu_start = time.perf_counter(), time.process_time()
    print(f"{'frozen' if args.frozen else 'learnable'} wavelets, {args.top} top, {args.size}px, "
          f"{args.epochs} epochs, batch {args.batch_size}, lr {args.lr}"
          + ("" if args.frozen else f", lr_scattering {args.lr_scattering}"), flush=True)
    for fold, (train, test) in enumerate(cv.split(data.filenames, data.target)):
        t0, c0 = time.perf_counter(), time.process_time()
        model = clone(pipe).fit(data.filenames[train], data.target[train])
        oof[test] = model.predict(data.filenames[test])
        recalls.append(recall_score(data.target[test], oof[test], average="macro"))
        print(f"fold {fold}: macro recall {recalls[-1]:.3f}  ({time.perf_counter() - t0:.0f} s, "
              f"{time.process_time() - c0:.0f} s of CPU)", flush=True)
    print(f"\nmacro recall {np.mean(recalls):.3f} ± {np.std(recalls):.3f} over {args.folds} folds "
          f"(study, learnable: 0.799); {time.perf_counter() - start:.0f} s in all, "
          f"{time.process_time() - cpu_start:.0f} s of CPU ({args.threads} threads)")
    if args.frozen:
        info = feature_cache_info()
        print(f"coefficient cache: {info.n_images} arrays ({info.nbytes / 2**20:.0f} MiB), "
              f"{info.hits} hits, {info.misses} misses")
    print()
    print(clinical_report(data.target, oof))


if __name__ == "__main__":
    main()
