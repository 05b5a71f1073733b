"""Inference speed of ``skin-estimators predict`` per architecture, and model-file load times.

For each architecture available in this installation (cnn, scattering, resnet50, bit), a
pipeline ImageLoader(400) -> ChannelNormalizer -> classifier is fitted for one epoch on a few
of the study's images (pretrained=False: the weights do not change the speed), saved in both
formats, and then timed:

* predict: images per second of the same code path as ``skin-estimators predict`` (decode the
  JPEG, resize to 400x400, normalise, forward pass, softmax), at batch sizes 1 and 16. The
  loader's cache is off, so every image is decoded every time. One untimed warm-up batch.
* load: seconds to ``load_model`` each file (median of 3), and the file sizes.

Throughput is the best of 3 runs over the same images (the least disturbed by other work
on a shared machine).

Usage:
  SKIN_ESTIMATORS_DATA=../shared/data nice python benchmarks/inference_speed.py \
      [--threads 1] [--images 32] [--models cnn scattering resnet50 bit]
Writes benchmarks/results/inference_speed.md.
"""

import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import torch
from sklearn.pipeline import make_pipeline

import skin_estimators
from skin_estimators import fetch_skin3, load_model, save_model
from skin_estimators.inference import predict_files
from skin_estimators.preprocessing import ChannelNormalizer, ImageLoader

MODELS = {
    "cnn": ("VanillaCNNClassifier", {}),
    "scattering": ("ScatteringClassifier", {}),
    "resnet50": ("ResNet50Classifier", {"pretrained": False}),
    "bit": ("BiTClassifier", {"pretrained": False}),
}
SIZE = 400


def fit_pipeline(name, X, y):
    cls_name, extra = MODELS[name]
    cls = getattr(skin_estimators, cls_name)
    clf = cls(max_epochs=1, batch_size=4, random_state=0, **extra)
    return make_pipeline(ImageLoader(size=SIZE, cache=False), ChannelNormalizer(), clf).fit(X, y)


def images_per_second(model, paths, batch_size, repeats=3):
    """Best of ``repeats`` runs: on a shared machine the fastest run is the least disturbed."""
    predict_files(model, paths[:batch_size], batch_size=batch_size)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_files(model, paths, batch_size=batch_size)
        times.append(time.perf_counter() - start)
    return len(paths) / min(times)


def load_seconds(path, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        load_model(path, trust_pickle=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=32, help="images timed per batch size")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "inference_speed.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = fetch_skin3()
    rng = np.random.RandomState(0)
    train = np.concatenate([rng.choice(np.flatnonzero(data.target == c), 2, replace=False)
                            for c in data.target_names])
    paths = [str(p) for p in data.filenames[rng.permutation(len(data.filenames))[:args.images]]]
    load_before = os.getloadavg()

    rows, skipped = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            if not hasattr(skin_estimators, MODELS[name][0]):
                skipped.append(name)
                continue
            print(f"{name}: fitting ...", flush=True)
            model = fit_pipeline(name, data.filenames[train], data.target[train])
            n_params = sum(p.numel() for p in model[-1].module_.parameters() if p.requires_grad)
            files = {}
            for fmt, ext in (("safe", "safetensors"), ("joblib", "joblib")):
                files[fmt] = os.path.join(tmp, f"{name}.{ext}")
                save_model(model, files[fmt], format=fmt)
            row = {"model": name, "params": n_params}
            for fmt, path in files.items():
                row[f"size_{fmt}"] = os.path.getsize(path) / 2**20
                row[f"load_{fmt}"] = load_seconds(path)
            for bs in (1, 16):
                print(f"{name}: predict, batch size {bs} ...", flush=True)
                row[f"ips_{bs}"] = images_per_second(model, paths, bs)
            rows.append(row)
            print(row, flush=True)
    load_after = os.getloadavg()

    lines = [
        "# Inference speed and model files",
        "",
        f"`python benchmarks/inference_speed.py --threads {args.threads} --images {args.images}`"
        f" on {platform.machine()} ({os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), CUDA: {torch.cuda.is_available()}). Inputs: "
        f"{args.images} of the study's JPEGs (298 to 1500 px), decoded and resized to "
        f"{SIZE}x{SIZE} for every prediction (cache off). Models fitted 1 epoch, "
        "pretrained=False (same speed as the trained ones).",
        "",
        f"Machine load (1-minute load average) before / after: {load_before[0]:.1f} / "
        f"{load_after[0]:.1f} - the machine is shared, so absolute numbers are noisy.",
        "",
        "| model | trainable params | images/s, batch 1 | images/s, batch 16 | safe file MB "
        "| joblib file MB | load safe s | load joblib s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['ips_1']:.2f} | {r['ips_16']:.2f} | "
            f"{r['size_safe']:.1f} | {r['size_joblib']:.1f} | {r['load_safe']:.2f} | "
            f"{r['load_joblib']:.2f} |"
        )
    if skipped:
        lines += ["", f"Not in this installation (skipped): {', '.join(skipped)}."]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
