"""Inference speed of the recommended model on a CPU, per backend, against plain PyTorch.

On the study's 102 photos, in one run (so that the ratios share the machine's load):

* photos/s of each stage of ``skin-estimators predict``: decode and resize (ImageLoader,
  cache off), normalise (ChannelNormalizer), features (PretrainedFeatures, lite0 stages 2-6
  means + head, image and mirror) and the whole ``predict_files``, per backend
  (``torch``, ``onnxruntime``);
* the baseline: a plain PyTorch loop of two contiguous
  ``timm.create_model("tf_efficientnet_lite0")`` forwards per photo (image and mirror),
  batch 32, under ``torch.no_grad``; every features and predict figure is also given as a
  ratio to it and to ``backend="torch"``;
* the maximum difference of the probabilities between the backends;
* ``skin-estimators evaluate`` timed from the command's start to its end, with
  ``--backend torch`` and ``--backend auto`` (``auto`` once with an empty graph cache, the
  one-off ONNX export counted, and once with the graph cached), on two folders of 408 files:
  the 102 photos listed 4 times (links to one file: the loader's cache decodes each photo
  once and the feature cache computes its features once, so the network is a small part
  of the command), and the 102
  photos in 4 versions with different pixels (the original, and its left-right,
  up-down and 180-degree flips, saved as the original's format: every file reaches the
  network, as in a folder of distinct photos);
* one epoch of ``EfficientNetLiteClassifier`` (pretrained=False: same speed) on the 102
  photos at 224 px, contiguous and channels-last, once each (``--no-fit`` skips it).

The feature cache is emptied before every timed features or predict run; each figure is the
best of ``--repeats`` runs (the least disturbed by other work on a shared machine), the
baseline and the backends taking turns so that they share the machine's load. The
ONNX graphs go to a temporary folder, not the user's cache.

Usage (the model from ``benchmarks/configs/best.yaml``)::

  skin-estimators train --config benchmarks/configs/best.yaml --test-size 0 --out /tmp/best
  SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/speed/inference_speed.py \\
      --model /tmp/best/model.safetensors [--threads 2] [--repeats 2]

Writes benchmarks/results/speed/inference_speed.md.
"""

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from _common import RESULTS, commit, machine

from skin_estimators import (
    EfficientNetLiteClassifier,
    PretrainedFeatures,
    clear_feature_cache,
    fetch_skin3,
    load_model,
    save_model,
)
from skin_estimators.inference import predict_files, set_feature_backend

BACKENDS = ("torch", "onnxruntime")


def best_time(run, repeats):
    times = []
    for _ in range(repeats):
        clear_feature_cache()
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def feature_steps(model):
    """The fitted PretrainedFeatures steps of a model, also those inside a TrustedClassifier.

    Every estimator reachable from ``model`` (pipeline steps, parameters and fitted parts),
    as ``set_feature_backend`` finds them.
    """
    from sklearn.base import BaseEstimator

    found, seen, todo = [], set(), [model]
    while todo:
        obj = todo.pop()
        if isinstance(obj, (list, tuple)):
            todo.extend(reversed(obj))
        elif isinstance(obj, BaseEstimator) and id(obj) not in seen:
            seen.add(id(obj))
            if isinstance(obj, PretrainedFeatures) and getattr(obj, "backbone_", None) is not None:
                found.append(obj)
            todo.extend(reversed(list(vars(obj).values())))
    return found


def set_backend(model, backend):
    set_feature_backend(model, backend)
    return model


def evaluate_folders(root, paths, labels):
    """Two folders of 4 x len(paths) files: links to each photo 4 times, and 4 versions."""
    from PIL import Image

    links, versions = os.path.join(root, "x4_links"), os.path.join(root, "x4_versions")
    for i, (path, label) in enumerate(zip(paths, labels, strict=True)):
        name = os.path.basename(path)
        for folder in (links, versions):
            os.makedirs(os.path.join(folder, str(label)), exist_ok=True)
        for copy in range(4):
            os.symlink(os.path.abspath(path), os.path.join(links, str(label),
                                                           f"{copy}_{i}_{name}"))
        os.symlink(os.path.abspath(path), os.path.join(versions, str(label), f"0_{i}_{name}"))
        with Image.open(path) as image:
            fmt = image.format
            image = image.convert("RGB")
            for copy, flip in enumerate((Image.Transpose.FLIP_LEFT_RIGHT,
                                         Image.Transpose.FLIP_TOP_BOTTOM,
                                         Image.Transpose.ROTATE_180), start=1):
                image.transpose(flip).save(os.path.join(versions, str(label),
                                                        f"{copy}_{i}_{name}"),
                                           format=fmt, **({"quality": 95} if fmt == "JPEG"
                                                          else {}))
    return {"listed 4 times": links, "4 versions": versions}


def plain_pytorch(images):
    """A run of two contiguous timm lite0 forwards per photo, batch 32 (after a warm-up)."""
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    x = torch.from_numpy(images)

    def run():
        with torch.no_grad():
            for start in range(0, len(x), 32):
                batch = x[start:start + 32]
                net(batch)
                net(torch.flip(batch, dims=[3]))

    run()
    return run


def interleaved(runs, repeats):
    """Best seconds (and last result) of each run, the runs taking turns ``repeats`` times.

    Taking turns spreads another process's load over all of them, so their ratios are
    fairer than when each is timed in a block of its own.
    """
    best, results = {}, {}
    for _ in range(repeats):
        for name, run in runs.items():
            seconds, results[name] = best_time(run, 1)
            best[name] = min(seconds, best.get(name, np.inf))
    return best, results


def evaluate_seconds(model_path, data, out, env, backend):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "skin_estimators.cli", "evaluate", model_path, data,
                    "--backend", backend, "--out", out, "--quiet"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(os.path.join(out, "predictions.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    proba = np.array([[float(r[k]) for k in r if k.startswith("proba_")] for r in rows])
    return seconds, len(rows), proba


def fit_seconds(images, y, channels_last):
    clf = EfficientNetLiteClassifier(pretrained=False, max_epochs=1, batch_size=16,
                                     random_state=0, device="cpu", channels_last=channels_last)
    start = time.perf_counter()
    clf.fit(images, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the recommended model's file")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-fit", dest="fit", action="store_false")
    parser.add_argument("--out", default=str(RESULTS / "inference_speed.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    work = tempfile.TemporaryDirectory()
    os.environ["SKIN_ESTIMATORS_ONNX_CACHE"] = os.path.join(work.name, "onnx")

    data = fetch_skin3()
    paths = [str(p) for p in data.filenames]
    n = len(paths)
    model = load_model(args.model)
    loader, normalizer = model[0], model[1]
    loader.set_params(cache=False)
    (features_step,) = feature_steps(model)  # (its batch_size, for the report)
    rows = []  # (stage, backend, photos/s)

    seconds, decoded = best_time(lambda: loader.transform(paths), args.repeats)
    rows.append(("decode and resize", "", n / seconds))
    seconds, images = best_time(lambda: normalizer.transform(decoded), args.repeats)
    rows.append(("normalise", "", n / seconds))
    print(rows, flush=True)

    export_seconds = None
    runs = {"plain": plain_pytorch(images)}
    for backend in BACKENDS:
        step = set_backend(load_model(args.model), backend)
        step[0].set_params(cache=False)
        (feats,) = feature_steps(step)
        clear_feature_cache()
        start = time.perf_counter()
        feats.transform(images[:2])  # warm-up; ONNX Runtime: the one-off export
        if backend == "onnxruntime":
            export_seconds = time.perf_counter() - start
        runs["features", backend] = lambda feats=feats: feats.transform(images)
        runs["predict", backend] = lambda step=step: predict_files(step, paths, batch_size=16)
    best, results = interleaved(runs, args.repeats)
    baseline = n / best["plain"]
    speed = {key: n / seconds for key, seconds in best.items() if key != "plain"}
    print(f"plain PyTorch loop: {baseline:.1f} photos/s", speed, flush=True)
    feature_diff = float(np.abs(results["features", "torch"]
                                - results["features", "onnxruntime"]).max())
    proba_diff = float(np.abs(results["predict", "torch"][0]
                              - results["predict", "onnxruntime"][0]).max())

    # evaluate: 408 files, the photos listed 4 times and in 4 versions; backends taking turns.
    folders = evaluate_folders(work.name, paths, data.target)
    evaluate = {}
    for round_ in range(min(2, args.repeats)):  # taking turns, best of the rounds
        for kind, folder in folders.items():
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                       SKIN_ESTIMATORS_ONNX_CACHE=os.path.join(work.name,
                                                               f"onnx_cli{round_}_{len(kind)}"))
            for name, backend in (("torch", "torch"), ("auto, empty graph cache", "auto"),
                                  ("auto, graph cached", "auto")):
                out = os.path.join(work.name, f"eval{round_}_{len(kind)}_" +
                                   name.replace(" ", "_").replace(",", ""))
                result = evaluate_seconds(args.model, folder, out, env, backend)
                if (kind, name) not in evaluate or result[0] < evaluate[kind, name][0]:
                    evaluate[kind, name] = result
                print(kind, name, result[:2], flush=True)
    evaluate_diff = float(max(np.abs(value[2] - evaluate[kind, "torch"][2]).max()
                              for (kind, _), value in evaluate.items()))

    fit = {}
    if args.fit:
        y = data.target
        for channels_last in (False, True):
            fit[channels_last] = fit_seconds(images, y, channels_last)  # once: ~1 min
            print("fit, channels_last", channels_last, fit[channels_last], flush=True)
    load_after = os.getloadavg()
    work.cleanup()

    import onnxruntime

    lines = [
        "# Inference speed on a CPU: the recommended model, per backend",
        "",
        f"`python benchmarks/speed/inference_speed.py --model <best.yaml model> --threads "
        f"{args.threads} --repeats {args.repeats}` at commit {commit(args.out)}, on {machine()} "
        f"({platform.system()} {platform.machine()}), torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, {args.threads} thread(s). Inputs: the "
        f"study's {n} photos (298 to 1500 px), decoded and resized to 224 px every time "
        "(loader cache off; feature cache emptied before each timed run). Best of "
        f"{args.repeats} runs.",
        "",
        f"Machine load (1, 5, 15-minute load averages) before: "
        f"{', '.join(f'{v:.2f}' for v in load_before)}; after: "
        f"{', '.join(f'{v:.2f}' for v in load_after)}. The machine is shared: absolute "
        "numbers are disturbed, the ratios (measured in the same run) less so.",
        "",
        f"Baseline, plain PyTorch (two contiguous `tf_efficientnet_lite0` forwards per photo, "
        f"image and mirror, batch 32, no_grad): **{baseline:.1f} photos/s**.",
        "",
        "| stage | backend | photos/s | × plain PyTorch | × backend torch |",
        "|---|---|---:|---:|---:|",
    ]
    for stage, backend, value in rows:
        lines.append(f"| {stage} | | {value:.1f} | | |")
    for stage in ("features", "predict"):
        for backend in BACKENDS:
            value = speed[stage, backend]
            lines.append(f"| {stage} | {backend} | {value:.1f} | {value / baseline:.2f} | "
                         f"{value / speed[stage, 'torch']:.2f} |")
    lines += [
        "",
        "features: PretrainedFeatures (lite0, stages 2-6 means + head, image and mirror "
        "averaged), batch_size as stored in the model file "
        f"({features_step.batch_size}). predict: `predict_files`, batches of 16, as the "
        "`predict` command. The one-off ONNX export (plus the check against PyTorch on a "
        f"probe image) took {export_seconds:.1f} s and is not in these figures.",
        "",
        f"Maximum difference between the backends: features {feature_diff:.2e}, "
        f"probabilities {proba_diff:.2e}.",
        "",
        f"## `skin-estimators evaluate` on {4 * n} files",
        "",
        "Timed from the command's start to its end (Python start, imports, model load, "
        "export when the graph is not cached), `--backend torch` against `--backend auto`; "
        f"best of {min(2, args.repeats)} rounds, the six runs taking turns. *Listed 4 times*: "
        f"the {n} photos linked 4 times each; the links lead to one file, so the loader's "
        "cache decodes each photo once and the feature cache computes its features once: "
        "the network is a small part of the command. *4 versions*: each "
        "photo, its left-right, up-down and 180-degree flips (same size and format): every "
        "file reaches the network, as a folder of distinct photos does.",
        "",
        "| folder | backend | seconds | photos/s | × backend torch |",
        "|---|---|---:|---:|---:|",
    ]
    for (kind, name), (seconds, count, _) in evaluate.items():
        lines.append(f"| {kind} | {name} | {seconds:.1f} | {count / seconds:.1f} | "
                     f"{evaluate[kind, 'torch'][0] / seconds:.2f} |")
    lines += ["", f"Maximum probability difference to backend torch: {evaluate_diff:.2e}."]
    if fit:
        lines += [
            "",
            f"## Fine-tuning: one epoch of EfficientNetLiteClassifier on the {n} photos",
            "",
            "pretrained=False (the same speed), 224 px, batch 16, no validation split; one "
            "run each.",
            "",
            "| memory layout | seconds |",
            "|---|---:|",
            f"| contiguous (channels_last=False) | {fit[False]:.1f} |",
            f"| channels-last (channels_last=True, the default) | {fit[True]:.1f} |",
        ]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
