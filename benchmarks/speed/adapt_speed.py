"""Wall time of ``skin-estimators adapt``'s work on 500 photos, in a fresh process.

usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/speed/adapt_speed.py MODEL \\
    [--photos 500] [--threads 2] [--method standardize]

MODEL: a model file trained from benchmarks/configs/best.yaml (``train --test-size 0``). The
photos: the 85 of ``sd198`` then the first of ``sd198_other`` (sorted paths) up to
``--photos``. Measured: hashing the files, decoding and resizing them, the frozen features
(image and mirror), the alignment and the refit of the classifier and its trust layer
(feature and image caches cleared first), as ``adapt`` runs them, without writing the file.
The budget: 500 photos in at most 60 s.
"""

import argparse
import os
import time

from _common import header


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--method", default="standardize")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from skin_estimators import clear_feature_cache, load_image_folder, load_model
    from skin_estimators.adaptation import adapt_model, file_keys
    from skin_estimators.preprocessing import clear_image_cache

    data = os.environ["SKIN_ESTIMATORS_DATA"]
    files = [str(f) for name in ("sd198", "sd198_other")  # sorted, as `adapt FOLDER` lists them
             for f in load_image_folder(os.path.join(data, name), groups=None).filenames]
    files = [f for f in files if f.lower().endswith((".jpg", ".jpeg", ".png"))][:args.photos]
    model = load_model(args.model)
    clear_feature_cache()
    clear_image_cache()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    adapt_model(model, files, method=args.method, keys=file_keys(files))  # what `adapt` runs
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(header(args.threads))
    print(f"adapt ({args.method}) to {len(files)} photos: {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({len(files) / wall:.1f} photos/s); budget 60 s for 500")


if __name__ == "__main__":
    main()
