"""Soft votes of EfficientNet-Lite0/1/2 probes and a fine-tuned lite0, controlled protocol.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/archive/ensemble.py features
    SKIN_ESTIMATORS_DATA=../shared/data nice -n 10 python benchmarks/archive/ensemble.py finetune
    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/archive/ensemble.py table
    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/archive/ensemble.py timing

Protocol: the controlled one (``StratifiedGroupKFold(5, shuffle=True)`` on
``fetch_skin3().groups``, the leak-free atlas pages; ``CONTROLLED_INPUTS`` at 224 px; CV seeds
0, 1, 2). Reported: macro recall as the mean over each seed's 5 folds, then over the seeds
("fold mean"), the macro recall of each seed's pooled out-of-fold predictions, mean over the
seeds ("pooled"), and the pooled recall of every class.

``features``: the probes' backbones are frozen, so their features do not depend on the fold:
computed once per backbone for the 102 photos (``ChannelNormalizer(mean="efficientnet_lite")
-> PretrainedFeatures(model=efficientnet_liteN, stages=(2, ..., 6), mirror=True)``, the
recommended model's front with another backbone), cached in ``--cache``. Only the head
(``StandardScaler -> LogisticRegression(C=0.01, class_weight="balanced")``, the recommended
one, C fixed beforehand) is fitted per fold. The soft vote averages the heads' class
probabilities (what ``VotingClassifier(voting="soft")`` computes from the same members).

``finetune``: an :class:`~skin_estimators.EfficientNetLiteClassifier` (lite0, ImageNet
weights, every layer trained) per fold on the normalised controlled inputs, a fixed recipe
chosen before seeing any fold (few epochs, strong augmentation, class-balanced loss, mirror
test-time augmentation); its out-of-fold probabilities are written per seed to ``--cache``,
so that ``table`` can put it, and its vote with the probe, beside the others.
``finetune --recipe partial``: the same with ``trainable_stages=2`` (stages 5-6, the final
convolution and the head train; the rest keeps its ImageNet weights), SGD with momentum.

``table``: the rows, the geometry baseline (a forest on file width, height and aspect) on the
same splits, fit and predict times; writes ``benchmarks/archive/results/ensemble_table.md``.

``timing``: the recommended model and the library's soft vote (one ``VotingClassifier``)
fitted from the 102 file paths, saved as safe files, loaded and used to predict the files;
and a check that the library's vote gives the probabilities the table averages. Writes
``benchmarks/archive/results/ensemble_timing.md``.
"""

import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np
from sklearn.base import clone
from sklearn.metrics import recall_score

from skin_estimators import ChannelNormalizer, fetch_skin3, make_recommended_classifier
from skin_estimators.preprocessing import CONTROLLED_INPUTS, ImageLoader

sys.path[1:1] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, folder)
                for folder in ("studies", "speed")]  # the shared _splits and _common
from _common import feature_cache  # noqa: E402 (benchmarks/speed)
from _splits import SEEDS, geometry_baseline, macro_recalls, splits  # noqa: E402 (benchmarks/studies)

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 224
BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
#: The fine-tuning recipe, fixed before any fold was seen.
FINETUNE = dict(variant="lite0", max_epochs=8, lr=0.005, batch_size=16, schedule="constant",
                augment=["hflip", "vflip", "rot90", "affine", "color"],
                class_weight="balanced", tta="hflip")
#: Partial fine-tuning, also fixed before any fold was seen: only stages 5-6, the final 1x1
#: convolution and the head train (the early stages keep their ImageNet weights and
#: BatchNorm statistics), SGD with momentum, a few more steps than the full recipe.
FINETUNE_PARTIAL = dict(variant="lite0", trainable_stages=2, max_epochs=15, lr=0.01,
                        optimizer__momentum=0.9, batch_size=16, schedule="constant",
                        augment=["hflip", "vflip", "rot90", "affine", "color"],
                        class_weight="balanced", tta="hflip")
RECIPES = {"full": ("finetune", FINETUNE), "partial": ("finetune_partial", FINETUNE_PARTIAL)}
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "skin_estimators_ensemble")


def controlled_images(cache, filenames):
    """The controlled 224 px inputs of every photo (uint8), decoded once and cached."""
    path = os.path.join(cache, "images.npz")
    if not os.path.exists(path):
        t0 = time.time()
        images = ImageLoader(size=SIZE, cache=False, **CONTROLLED_INPUTS).transform(filenames)
        np.savez(path, images=images, seconds=time.time() - t0)
    with np.load(path) as f:
        return f["images"], float(f["seconds"])


def features(cache, images, model):
    """Frozen features of ``model`` (recommended front, another backbone), cached."""
    path = os.path.join(cache, f"{model}.npz")
    if not os.path.exists(path):
        t0 = time.time()
        front = clone(make_recommended_classifier()[0]).set_params(model=model)
        X = front.fit_transform(ChannelNormalizer(mean="efficientnet_lite").fit_transform(images))
        np.savez(path, X=X, seconds=time.time() - t0)
        print(f"{model}: {X.shape} in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    with np.load(path) as f:
        return f["X"], float(f["seconds"])


def probe_probas(X, y, groups):
    """Out-of-fold class probabilities of the recommended head, per seed; head seconds."""
    out, seconds = [], 0.0
    for seed in SEEDS:
        proba = np.zeros((len(y), len(np.unique(y))))
        for train, test in splits(y, groups, seed):
            t0 = time.perf_counter()
            head = clone(make_recommended_classifier()[1:]).fit(X[train], y[train])
            proba[test] = head.predict_proba(X[test])
            seconds += time.perf_counter() - t0
        out.append(proba)
    return np.stack(out), seconds


def finetune(cache, images, y, groups, seeds, recipe="full"):
    """Out-of-fold probabilities of the fine-tuned lite0, one file per seed."""
    import torch

    from skin_estimators import EfficientNetLiteClassifier

    classes = np.unique(y)
    for seed in seeds:
        prefix, params = RECIPES[recipe]
        path = os.path.join(cache, f"{prefix}_seed{seed}.npz")
        if os.path.exists(path):
            continue
        proba = np.zeros((len(y), len(classes)))
        fit_s, predict_s = [], []
        for k, (train, test) in enumerate(splits(y, groups, seed)):
            norm = ChannelNormalizer(mean="efficientnet_lite")
            clf = EfficientNetLiteClassifier(random_state=seed, device="cpu", verbose=0,
                                             **params)
            t0 = time.perf_counter()
            clf.fit(norm.fit_transform(images[train]), y[train])
            fit_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            proba[test] = clf.predict_proba(norm.transform(images[test]))
            predict_s.append(time.perf_counter() - t0)
            r = recall_score(y[test], classes[proba[test].argmax(1)], average="macro")
            print(f"seed {seed} fold {k}: fit {fit_s[-1]:.0f} s, predict {predict_s[-1]:.1f} s, "
                  f"macro recall {r:.3f} (torch threads {torch.get_num_threads()})",
                  file=sys.stderr, flush=True)
        np.savez(path, proba=proba, fit_s=fit_s, predict_s=predict_s)


def score(probas, y, groups, classes):
    """Fold mean and pooled macro recall, per-seed fold means, per-class pooled recall."""
    return macro_recalls([classes[p.argmax(1)] for p in probas], y, groups, classes)


def table(cache, filenames, y, groups, out):
    classes = np.unique(y)
    images, load_s = controlled_images(cache, filenames)
    rows, probas, times = [], {}, {}
    short = {m: m.replace("efficientnet_", "") for m in BACKBONES}
    for model in BACKBONES:
        X, feat_s = features(cache, images, model)
        probas[short[model]], head_s = probe_probas(X, y, groups)
        times[short[model]] = (feat_s, head_s)
    for key, prefix in (("ft", "finetune"), ("ftp", "finetune_partial")):
        ft = [os.path.join(cache, f"{prefix}_seed{s}.npz") for s in SEEDS]
        if all(os.path.exists(p) for p in ft):
            loaded = [np.load(p) for p in ft]
            probas[key] = np.stack([f["proba"] for f in loaded])
            times[key] = (float(sum(f["fit_s"].sum() for f in loaded)),
                          float(sum(f["predict_s"].sum() for f in loaded)))
    names = {"lite0": "lite0 probe (recommended: stage 2-6 + head means, LR C=0.01, balanced)",
             "lite1": "lite1 probe (same front and head)",
             "lite2": "lite2 probe (same front and head)",
             "lite0+lite1+lite2": "**soft vote lite0 + lite1 + lite2 probes** "
                                  "(declared beforehand)",
             "lite0+lite1": "soft vote lite0 + lite1 (information)",
             "lite0+lite2": "soft vote lite0 + lite2 (information)",
             "lite1+lite2": "soft vote lite1 + lite2 (information)",
             "ft": "fine-tuned lite0 (EfficientNetLiteClassifier, 8 epochs, strong augmentation, "
                   "balanced, mirror TTA)",
             "lite0+ft": "**soft vote lite0 probe + fine-tuned lite0**",
             "lite0+lite1+lite2+ft": "soft vote lite0 + lite1 + lite2 probes + fine-tuned lite0",
             "ftp": "partly fine-tuned lite0 (stages 5-6 + head, 15 epochs, SGD momentum 0.9, "
                    "strong augmentation, balanced, mirror TTA)",
             "lite0+ftp": "**soft vote lite0 probe + partly fine-tuned lite0**",
             "ft+ftp": "soft vote of the two fine-tuned lite0 (information)",
             "lite0+ft+ftp": "soft vote lite0 probe + both fine-tuned lite0 (information)"}
    for key, label in names.items():
        parts = key.split("+")
        if not all(p in probas for p in parts):
            continue
        r = score(np.mean([probas[p] for p in parts], axis=0), y, groups, classes)
        r["name"] = label
        if len(parts) == 1 and parts[0] not in ("ft", "ftp"):
            r["time"] = (f"features {times[parts[0]][0]:.0f} s once (102 photos + mirrors); "
                         f"head, 15 fits + predicts {times[parts[0]][1]:.1f} s")
        elif len(parts) == 1:
            t = times[parts[0]]
            r["time"] = f"15 fits {t[0]:.0f} s, predicts {t[1]:.0f} s"
        else:
            r["time"] = "sum of the members'"
        rows.append(r)
        print(f"{label}: fold {r['fold']:.3f} pooled {r['pooled']:.3f} "
              f"{np.round(r['per_class'], 3)}", file=sys.stderr, flush=True)
    g = geometry_baseline(filenames, y, groups)
    geo = g["fold"], g["pooled"]
    lines = ["| row | **fold mean** | per seed 0 / 1 / 2 | **pooled** | pooled per seed | "
             + " | ".join(f"pooled recall {c}" for c in classes) + " | time (1 torch thread) |",
             "|---|---|---|---|---|" + "---|" * len(classes) + "---|"]
    for r in rows:
        lines.append(
            f"| {r['name']} | **{r['fold']:.3f}** | "
            + " / ".join(f"{v:.3f}" for v in r["fold_seeds"])
            + f" | **{r['pooled']:.3f}** | " + " / ".join(f"{v:.3f}" for v in r["pooled_seeds"])
            + " | " + " | ".join(f"{v:.3f}" for v in r["per_class"]) + f" | {r['time']} |")
    lines.append(f"| *baseline: image geometry (file width, height, aspect; not the pixels)* | "
                 f"*{geo[0]:.3f}* | | *{geo[1]:.3f}* | |" + " |" * len(classes) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    machine = (f"{platform.machine()}, {os.cpu_count()} cores (shared), Python "
               f"{platform.python_version()}")
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(f"<!-- generated by benchmarks/archive/ensemble.py table; commit {commit}; "
                 f"{machine}; decoding the 102 controlled inputs {load_s:.0f} s -->\n\n")
        fh.write(text)


def library_ensemble(models=BACKBONES):
    """The soft vote as the library builds it: one VotingClassifier of recommended probes."""
    from sklearn.ensemble import VotingClassifier

    members = [(m.replace("efficientnet_", ""),
                make_recommended_classifier(pretrainedfeatures__model=m)) for m in models]
    return VotingClassifier(members, voting="soft")


def timing(cache, filenames, y, groups, out):
    """Fit, save, load and predict with the library's estimators, from the 102 file paths.

    Also checks, on fold 1 of seed 0, that the library's ensemble gives the probabilities
    the table averages (the same members on the same features).
    """
    import tempfile

    from sklearn.pipeline import make_pipeline

    from skin_estimators import clear_feature_cache, load_model, save_model
    from skin_estimators.inference import predict_files

    images, _ = controlled_images(cache, filenames)
    train, test = splits(y, groups, 0)[0]
    clear_feature_cache()
    norm = ChannelNormalizer(mean="efficientnet_lite")
    vote = library_ensemble().fit(norm.fit_transform(images[train]), y[train])
    proba = vote.predict_proba(norm.transform(images[test]))
    manual = []
    for model in BACKBONES:
        X, _ = features(cache, images, model)
        head = clone(make_recommended_classifier()[1:]).fit(X[train], y[train])
        manual.append(head.predict_proba(X[test]))
    gap = float(np.abs(proba - np.mean(manual, axis=0)).max())
    lines = [f"library VotingClassifier vs averaged heads, seed 0 fold 1: max |difference| "
             f"of the probabilities {gap:.2e}", "",
             "| model (from the 102 file paths, controlled inputs, 224 px) | fit, cold (s) | "
             "save (s) | file (MB) | load (s) | predict 102 files, cold (s) |",
             "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, clf in (("recommended (lite0 probe)", make_recommended_classifier()),
                          ("soft vote lite0 + lite1 + lite2 probes", library_ensemble())):
            model = make_pipeline(ImageLoader(size=SIZE, cache=False, **CONTROLLED_INPUTS),
                                  ChannelNormalizer(mean="efficientnet_lite"), clf)
            clear_feature_cache()  # cold: every image's features computed in this fit
            t0 = time.perf_counter()
            model.fit(filenames, y)
            fit_s = time.perf_counter() - t0
            path = os.path.join(tmp, "model.safetensors")
            t0 = time.perf_counter()
            save_model(model, path)
            save_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            loaded = load_model(path)
            load_s = time.perf_counter() - t0
            clear_feature_cache()
            t0 = time.perf_counter()
            p, errors = predict_files(loaded, filenames)
            predict_s = time.perf_counter() - t0
            assert not any(errors) and np.allclose(p, model.predict_proba(filenames), atol=1e-5)
            lines.append(f"| {name} | {fit_s:.1f} | {save_s:.1f} | "
                         f"{os.path.getsize(path) / 1e6:.1f} | {load_s:.1f} | {predict_s:.1f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(f"<!-- generated by benchmarks/archive/ensemble.py timing; "
                 f"{os.cpu_count()} shared cores, 1 torch thread -->\n\n{text}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["features", "finetune", "table", "timing"])
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="finetune: the CV seeds to run (default 0 1 2)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="full",
                        help="finetune: every layer (full) or stages 5-6 and the head (partial)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", default=os.path.join(HERE, "results",
                                                      "ensemble_table.md"))
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(1)
    data = fetch_skin3()
    filenames = list(data.filenames)
    args.cache = feature_cache(args.cache, filenames)
    os.makedirs(args.cache, exist_ok=True)
    y, groups = np.asarray(data.target), np.asarray(data.groups)
    if args.step == "features":
        images, load_s = controlled_images(args.cache, filenames)
        print(f"images {images.shape} decoded in {load_s:.0f} s", file=sys.stderr)
        for model in BACKBONES:
            features(args.cache, images, model)
    elif args.step == "finetune":
        images, _ = controlled_images(args.cache, filenames)
        finetune(args.cache, images, y, groups, args.seeds, args.recipe)
    elif args.step == "timing":
        out = args.out.replace("ensemble_table.md", "ensemble_timing.md")
        timing(args.cache, filenames, y, groups, out)
    else:
        table(args.cache, filenames, y, groups, args.out)


if __name__ == "__main__":
    main()
