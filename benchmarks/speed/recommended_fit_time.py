"""Wall time to train make_recommended_classifier() on all 102 images, in a fresh process.

usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/speed/recommended_fit_time.py \\
    [--kind efficientnet_lite|scattering] [--threads 2]

Measures a user's first fit: decoding and resizing the images, the model's features of every
image and of its mirror, and the training (``efficientnet_lite``: frozen EfficientNet-Lite0
features at 224x224, then a logistic regression; ``scattering``: fixed scattering at 400x400,
then 22 epochs); then a prediction of 20 images with mirror test-time augmentation. The
baseline, measured first in the same run: decoding and resizing the same photos alone
(``ImageLoader``, cache off), the part every model shares; the fit is printed as a ratio to it.
"""

import argparse
import time

import torch
from _common import header
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    clear_feature_cache,
    fetch_skin3,
    make_recommended_classifier,
)
from skin_estimators.preprocessing import clear_image_cache

SETTINGS = {  # image size and normalisation each kind expects
    "efficientnet_lite": (224, "efficientnet_lite"),
    "scattering": (400, "study"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=list(SETTINGS), default="efficientnet_lite")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(header(args.threads), flush=True)
    start = time.perf_counter()
    data = fetch_skin3()
    size, mean = SETTINGS[args.kind]

    t = time.perf_counter()
    ImageLoader(size=size, cache=False).transform(data.filenames)
    decode = time.perf_counter() - t

    clear_image_cache()
    clear_feature_cache()
    model = make_pipeline(
        ImageLoader(size=size),
        ChannelNormalizer(mean=mean),
        make_recommended_classifier(kind=args.kind, random_state=0)
        if args.kind == "scattering" else make_recommended_classifier(),
    )
    t = time.perf_counter()
    model.fit(data.filenames, data.target)
    fit = time.perf_counter() - t
    t = time.perf_counter()
    model.predict(data.filenames[:20])
    predict = time.perf_counter() - t
    n = len(data.filenames)
    print(
        f"{args.kind}: decode + resize {n} images at {size}x{size} (baseline): {decode:.1f} s; "
        f"fit on {n} images: {fit:.1f} s; predict 20 images with TTA (cached): {predict:.1f} s; "
        f"process total {time.perf_counter() - start:.1f} s"
    )
    print(f"fit / decode and resize alone: {fit / decode:.1f}")


if __name__ == "__main__":
    main()
