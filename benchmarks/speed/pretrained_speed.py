"""Speed and memory of ResNet50Classifier and BiTClassifier at the study's 400x400, batch 4.

Each configuration runs in its own process (so peak memory is its own) on skin3 photos resized
to 400x400: fit for two epochs and time the second (skorch's per-epoch ``dur``: no model
building, no first-call warm-up), then time ``predict_proba`` after one warm-up batch. Reported:
seconds per training image and per predicted image, time to build the network, and peak
memory: resident set size (``getrusage``) on the CPU, ``torch.cuda.max_memory_allocated`` on a
GPU. Random initial weights (``pretrained=False``): the speed does not depend on them, and the
machine that wrote the results has no internet access. Each time is also given as a ratio to
the first configuration of the same model in the same run (the saved activations: to the first
precision).

Usage (from the repository root)::

    SKIN_ESTIMATORS_DATA=../shared/data nice python benchmarks/speed/pretrained_speed.py \
        --threads 2 --n-images 8 > benchmarks/results/speed/pretrained_speed.log
    # on a GPU: one fold of the study's 5-fold CV (82 training, 20 test images), fp32 and
    # mixed precision
    python benchmarks/speed/pretrained_speed.py --device cuda --fold --precision fp32 auto
    # without a GPU: activation memory autograd keeps per batch, fp32 against bf16
    python benchmarks/speed/pretrained_speed.py --activations --threads 1 --precision fp32 bf16 fp16
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
from _common import header

SIZE, BATCH = 400, 4
MODELS = ("resnet50", "bit")


def load_images(n, size=SIZE):
    """n skin3 photos (a fixed random draw), resized to size x size, normalised to [-1, 1]."""
    from PIL import Image

    from skin_estimators import load_image_folder

    root = os.path.join(os.environ.get("SKIN_ESTIMATORS_DATA", "../shared/data"), "skin3")
    data = load_image_folder(root)
    pick = np.random.RandomState(0).permutation(len(data.filenames))[:n]
    X = np.empty((n, 3, size, size), dtype=np.float32)
    for k, i in enumerate(pick):
        with Image.open(data.filenames[i]) as im:
            arr = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), np.float32)
        X[k] = arr.transpose(2, 0, 1) / 127.5 - 1.0
    return X, np.asarray(data.target)[pick]


def _epoch_clock():
    """A skorch callback recording wall and CPU seconds of each epoch.

    CPU seconds (all threads of this process) hardly change when other processes compete
    for the cores, wall seconds do: both are reported.
    """
    from skorch.callbacks import Callback

    class EpochClock(Callback):
        def on_epoch_begin(self, net, **kwargs):
            self.start_ = time.perf_counter(), time.process_time()

        def on_epoch_end(self, net, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            net.history.record("wall_s", wall - self.start_[0])
            net.history.record("cpu_s", cpu - self.start_[1])

    return EpochClock()


def run_one(cfg):
    """One configuration in this process; returns a dict of measurements."""
    import torch

    from skin_estimators import BiTClassifier, ResNet50Classifier

    torch.set_num_threads(cfg["threads"])
    cls = {"resnet50": ResNet50Classifier, "bit": BiTClassifier}[cfg["model"]]
    n_train, n_test = cfg["n_train"], cfg["n_test"]
    X, y = load_images(n_train + n_test)
    X_train, y_train, X_test = X[:n_train], y[:n_train], X[n_train:]
    cuda = cfg["device"] == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    clf = cls(pretrained=False, batch_size=BATCH, max_epochs=cfg["epochs"], device=cfg["device"],
              channels_last=cfg["channels_last"], precision=cfg["precision"],
              freeze_backbone=cfg["freeze"], random_state=0,
              callbacks=[("clock", _epoch_clock())])
    t = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - t
    epoch_s, epoch_cpu = clf.history[-1, "wall_s"], clf.history[-1, "cpu_s"]
    build_s = fit_s - sum(clf.history[:, "dur"])
    clf.predict_proba(X_test[:BATCH])  # warm-up
    if cuda:
        torch.cuda.synchronize()
    t, c = time.perf_counter(), time.process_time()
    clf.predict_proba(X_test)
    if cuda:
        torch.cuda.synchronize()
    predict_s, predict_cpu = time.perf_counter() - t, time.process_time() - c
    out = dict(cfg, train_s_per_image=epoch_s / n_train, predict_s_per_image=predict_s / n_test,
               train_cpu_s_per_image=epoch_cpu / n_train,
               predict_cpu_s_per_image=predict_cpu / n_test,
               fit_s=fit_s, build_s=build_s,
               peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
               load=os.getloadavg()[0], torch=torch.__version__)
    if cuda:
        out["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
        out["gpu"] = torch.cuda.get_device_name()
        # the study's fold: all epochs of training plus predicting the held-out images
        out["fold_s"] = fit_s + predict_s
    return out


def saved_activations(model_name, precision, threads=1):
    """Bytes autograd keeps for the backward pass of one 400x400 batch of 4 (train mode).

    Without a GPU this is the best estimate of what mixed precision saves there: during
    fine-tuning, GPU memory is the weights, their gradients (and momentum), plus these saved
    activations, which dominate at 400x400. Counted once per storage, parameters excluded
    (autocast's low-precision copies of the weights are counted: they are real memory).
    CPU and CUDA autocast cast nearly the same operations (convolutions and matmuls to the
    low precision, normalisations and losses in float32), so the ratio carries over.
    """
    import torch

    from skin_estimators.networks import create_backbone

    torch.set_num_threads(threads)
    tag = {"resnet50": "resnet50.tv_in1k", "bit": "resnetv2_101x1_bit.goog_in21k"}[model_name]
    model = create_backbone(tag, n_classes=3, pretrained=False).train()
    model = model.to(memory_format=torch.channels_last)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    x = torch.randn(BATCH, 3, SIZE, SIZE).contiguous(memory_format=torch.channels_last)
    seen, total = set(), 0

    def pack(t):
        nonlocal total
        ptr = t.untyped_storage().data_ptr()
        if ptr not in seen and ptr not in params:
            seen.add(ptr)
            total += t.untyped_storage().nbytes()
        return t

    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            out = model(x)
        torch.nn.functional.cross_entropy(out.float(), torch.zeros(BATCH, dtype=torch.long))
    n_params = sum(p.numel() for p in model.parameters())
    return dict(model=model_name, precision=precision, saved_activations_gib=total / 2**30,
                weights_gib=n_params * 4 / 2**30)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-images", type=int, default=8, help="training and test images each")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", nargs="+", default=["fp32"])
    parser.add_argument("--channels-last", nargs="+", type=int, default=[0])
    parser.add_argument("--freeze", nargs="+", type=int, default=[0])
    parser.add_argument("--fold", action="store_true",
                        help="time one fold of the study's CV: 82 training / 20 test images and "
                             "the study's epochs (ResNet-50 26, BiT 22)")
    parser.add_argument("--activations", action="store_true",
                        help="only count the activations saved for backward (fp32 vs bf16)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: JSON config of one run
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))), flush=True)
        return 0
    print(header(args.threads), flush=True)
    if args.activations:
        for model in args.models:
            first = None
            for precision in args.precision:
                row = saved_activations(model, precision, args.threads)
                first = first or row
                row["ratio_to_" + first["precision"]] = (row["saved_activations_gib"]
                                                         / first["saved_activations_gib"])
                print(json.dumps(row), flush=True)
        return 0

    epochs = {"resnet50": 26, "bit": 22}
    rows = []
    for model in args.models:
        for precision in args.precision:
            for cl in args.channels_last:
                for freeze in args.freeze:
                    cfg = dict(model=model, precision=precision, channels_last=bool(cl),
                               freeze=bool(freeze), threads=args.threads, device=args.device,
                               n_train=82 if args.fold else args.n_images,
                               n_test=20 if args.fold else args.n_images,
                               epochs=epochs[model] if args.fold else 2)
                    proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(cfg)],
                                          capture_output=True, text=True)
                    if proc.returncode:
                        print(proc.stderr, file=sys.stderr)
                        continue
                    row = json.loads(proc.stdout.strip().splitlines()[-1])
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print("\n| model | device | precision | channels_last | frozen | s / train image | "
          "s / predicted image | CPU s / train image | CPU s / predicted image | build s | "
          "peak RSS GiB | peak GPU GiB | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['device']} | {r['precision']} | {r['channels_last']} | "
              f"{r['freeze']} | {r['train_s_per_image']:.3f} | {r['predict_s_per_image']:.3f} | "
              f"{r['train_cpu_s_per_image']:.3f} | {r['predict_cpu_s_per_image']:.3f} | "
              f"{r['build_s']:.1f} | {r['peak_rss_gib']:.2f} | "
              f"{r.get('peak_gpu_gib', float('nan')):.2f} | {r['load']:.1f} |")
    print("\nratios to the first configuration of the same model (seconds per image):")
    first = {}
    for r in rows:
        base = first.setdefault(r["model"], r)
        train = r["train_s_per_image"] / base["train_s_per_image"]
        predict = r["predict_s_per_image"] / base["predict_s_per_image"]
        print(f"  {r['model']} {r['device']} {r['precision']} channels_last={r['channels_last']} "
              f"frozen={r['freeze']}: train {train:.2f}, predict {predict:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
