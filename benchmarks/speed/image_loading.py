"""Time to load and resize the study's 102 photos with ImageLoader.

Compared, alternating, several times each (files already in the OS page cache, so decoding is
timed, not the disk; ImageLoader's own cache off):

* study-style: a Python loop of Pillow ``open -> convert("RGB") -> resize(BILINEAR)``, what
  torchvision's ``Resize((400, 400))`` does per image;
* ImageLoader with 1 and 2 threads; at 64x64 also without draft (reduced-scale) JPEG decoding;
* a second transform through the cache.

Each time is also printed as a ratio to the study-style loop's median of the same run.

Usage: SKIN_ESTIMATORS_DATA=../shared/data nice python benchmarks/speed/image_loading.py \\
    [--repeats 7]
"""

import argparse
import contextlib
import glob
import os
import time

import numpy as np
from _common import header
from PIL import Image

from skin_estimators.preprocessing import ImageLoader, clear_image_cache


def study_style(paths, size):
    return np.stack(
        [np.asarray(Image.open(p).convert("RGB").resize(size, Image.BILINEAR)) for p in paths]
    )


def without_draft(paths, size):
    """ImageLoader on Pillow images opened here: decoded at full scale, never drafted.

    Pillow opens lazily, so the whole decoding still happens inside ``transform``; only
    opening from a path lets ImageLoader decode a JPEG at a reduced scale.
    """
    with contextlib.ExitStack() as stack:
        images = [stack.enter_context(Image.open(p)) for p in paths]
        return ImageLoader(size=size, cache=False).transform(images)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    root = os.path.join(os.environ.get("SKIN_ESTIMATORS_DATA", "../shared/data"), "skin3")
    paths = sorted(glob.glob(os.path.join(root, "*", "*.jpg")))
    for p in paths:
        with open(p, "rb") as f:
            f.read()
    configs = {
        "study-style Pillow loop, 400": lambda: study_style(paths, (400, 400)),
        "ImageLoader 400, n_jobs=1": lambda: ImageLoader(size=400, cache=False).transform(paths),
        "ImageLoader 400, n_jobs=2": lambda: ImageLoader(400, n_jobs=2, cache=False).transform(
            paths
        ),
        "ImageLoader 64, n_jobs=1": lambda: ImageLoader(size=64, cache=False).transform(paths),
        "ImageLoader 64, n_jobs=1, no draft": lambda: without_draft(paths, 64),
    }
    times = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name, run in configs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    print(header())
    print(f"{len(paths)} images, {args.repeats} repeats")
    baseline = np.median(times["study-style Pillow loop, 400"])
    for name, values in times.items():
        print(f"  {name:38s} min {min(values):.3f} s   median {np.median(values):.3f} s   "
              f"median / study-style {np.median(values) / baseline:.2f}")

    same = np.array_equal(
        study_style(paths, (400, 400)), ImageLoader(size=400, cache=False).transform(paths)
    )
    full, fast = without_draft(paths, 64).astype(int), ImageLoader(64, cache=False).transform(paths)
    diff = np.abs(fast - full)
    print(f"400x400 output identical to the study-style loop: {same}")
    print(
        f"64x64 draft vs full decode: mean |diff| {diff.mean():.3f} grey levels, worst image "
        f"{diff.reshape(len(paths), -1).mean(axis=1).max():.3f}, max pixel {diff.max()}"
    )
    clear_image_cache()
    loader = ImageLoader(size=400)
    start = time.perf_counter()
    loader.transform(paths)
    middle = time.perf_counter()
    loader.transform(paths)
    end = time.perf_counter()
    print(f"cache: first transform {middle - start:.3f} s, second {end - middle:.4f} s")


if __name__ == "__main__":
    main()
