"""Wall time to train make_recommended_classifier() on all 102 images at 400x400 (2 threads).

usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/recommended_fit_time.py

Measures a user's first fit in a fresh process: decoding and resizing the images, the
scattering of every image and of its mirror, and the 22 epochs; then a prediction of 20
images with mirror test-time augmentation.
"""

import time

import torch
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    clear_feature_cache,
    fetch_skin3,
    make_recommended_classifier,
)


def main():
    torch.set_num_threads(2)
    start = time.perf_counter()
    data = fetch_skin3()
    clear_feature_cache()
    model = make_pipeline(
        ImageLoader(size=400),
        ChannelNormalizer(mean="study"),
        make_recommended_classifier(random_state=0),
    )
    t = time.perf_counter()
    model.fit(data.filenames, data.target)
    fit = time.perf_counter() - t
    t = time.perf_counter()
    model.predict(data.filenames[:20])
    predict = time.perf_counter() - t
    print(
        f"fit on 102 images (decode + resize + scattering of 204 images + 22 epochs): "
        f"{fit:.1f} s; predict 20 images with TTA (cached): {predict:.1f} s; "
        f"process total {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
