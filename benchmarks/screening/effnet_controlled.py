"""Screening for issue 13 (not a library API): ImageNet features of EfficientNet-Lite on the
controlled, leak-free protocol, against pixel shortcut probes on the same inputs.

usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/screening/effnet_controlled.py \
           [features|cv|all] [--only NAME ...]
Controlled inputs (plain Pillow): cut the bottom 15 % (captions, page furniture), shorter side
to 298 px, centre square, resize (bilinear) to the model's size. Groups: the atlas page, the
leading ``<chapter>-<number>`` of the file name, with pages 4-105 and 4-110 merged (they share
a photo). Outer CV: StratifiedGroupKFold(5, shuffle=True, random_state=s), s = 0, 1, 2; score:
macro recall (balanced accuracy). Every regularisation strength is chosen by an inner
StratifiedGroupKFold(3) grid search on the outer training fold only.
Features are written to $SCREEN_DIR (default /tmp/screen_effnet) and reused.
"""

import argparse
import glob
import os
import re
import time

import numpy as np
import torch
from PIL import Image
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

torch.set_num_threads(int(os.environ.get("T", "1")))

ROOT = os.path.join(os.environ.get("SKIN_ESTIMATORS_DATA", "../shared/data"), "skin3")
OUT = os.environ.get("SCREEN_DIR", "/tmp/screen_effnet")
SEEDS = (0, 1, 2)
MERGED = {"4-110": "4-105"}  # the two pages share a photo
C_GRID = [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]


def dataset():
    classes = sorted(os.listdir(ROOT))
    paths, y, groups = [], [], []
    for i, c in enumerate(classes):
        for p in sorted(glob.glob(f"{ROOT}/{c}/*")):
            page = re.match(r"(\d+-\d+)", os.path.basename(p)).group(1)
            paths.append(p), y.append(i), groups.append(MERGED.get(page, page))
    return paths, np.array(y), np.array(groups), classes


def controlled(path, size):
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        im = im.crop((0, 0, w, round(h * 0.85)))  # the bottom band
        w, h = im.size
        scale = 298 / min(w, h)
        im = im.resize((max(298, round(w * scale)), max(298, round(h * scale))), Image.BILINEAR)
        w, h = im.size
        left, top = (w - 298) // 2, (h - 298) // 2
        im = im.crop((left, top, left + 298, top + 298))
        if size != 298:
            im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def images(paths, size):
    x = np.stack([controlled(p, size) for p in paths])
    if os.environ.get("GRAYWORLD"):
        # grey-world colour constancy: every channel's mean scaled to the image's grey mean
        f = x.astype(np.float32)
        means = f.mean((1, 2), keepdims=True)
        x = np.clip(f * means.mean(3, keepdims=True) / means, 0, 255).astype(np.uint8)
    return x


def effnet_features(paths, variant, size):
    from skin_estimators.networks import efficientnet_lite

    model = efficientnet_lite(variant, num_classes=0).eval()
    x = torch.from_numpy(images(paths, size)).permute(0, 3, 1, 2).float() / 255
    x = (x - 0.5) / 0.5
    out = []
    with torch.no_grad():
        for flip in (False, True):
            batches = [model(torch.flip(b, [3]) if flip else b) for b in x.split(8)]
            out.append(torch.cat(batches).numpy())
    return np.stack(out, 1)  # (n, 2, 1280): image, mirror


def stage_features(paths, variant, size, stages=(2, 3, 4, 5, 6), std=False):
    """Global mean (and std) of every stage's output after stage 1, and of the head: texture
    from the middle of the network beside the ImageNet-semantic last layer."""
    from skin_estimators.networks import efficientnet_lite

    model = efficientnet_lite(variant, num_classes=0).eval()
    x = torch.from_numpy(images(paths, size)).permute(0, 3, 1, 2).float() / 255
    x = (x - 0.5) / 0.5

    def pooled(t):
        return [t.mean((2, 3))] + ([t.std((2, 3))] if std else [])

    def forward(b):
        out = []
        t = model.bn1(model.conv_stem(b))
        for i, stage in enumerate(model.blocks):
            t = stage(t)
            if i in stages:
                out += pooled(t)
        out += pooled(model.bn2(model.conv_head(t)))
        return torch.cat(out, 1)

    out = []
    with torch.no_grad():
        for flip in (False, True):
            out.append(torch.cat([forward(torch.flip(b, [3]) if flip else b)
                                  for b in x.split(8)]).numpy())
    return np.stack(out, 1)


def patch_features(paths, variant, crop=150, grid=3, size=224, stages=None):
    """Pooled features of a grid x grid of crop-pixel patches of the 298 px controlled square,
    each enlarged to ``size`` (a closer look at the skin), and of their mirrors."""
    from skin_estimators.networks import efficientnet_lite

    model = efficientnet_lite(variant, num_classes=0).eval()
    squares = images(paths, 298)
    starts = np.linspace(0, 298 - crop, grid).round().astype(int)
    patches = np.stack([
        np.stack([np.asarray(Image.fromarray(a[t:t + crop, l:l + crop]).resize(
            (size, size), Image.BILINEAR)) for t in starts for l in starts]) for a in squares])
    forward = staged_forward(model, stages)
    x = torch.from_numpy(patches.reshape(-1, size, size, 3)).permute(0, 3, 1, 2).float() / 255
    x = (x - 0.5) / 0.5
    out = []
    with torch.no_grad():
        for flip in (False, True):
            out.append(torch.cat([forward(torch.flip(b, [3]) if flip else b)
                                  for b in x.split(16)]).numpy())
    return np.stack(out, 1).reshape(len(paths), grid * grid, 2, -1)


def staged_forward(model, stages):
    if stages is None:
        return model

    def forward(b):
        out = []
        t = model.bn1(model.conv_stem(b))
        for i, stage in enumerate(model.blocks):
            t = stage(t)
            if i in stages:
                out.append(t.mean((2, 3)))
        out.append(model.bn2(model.conv_head(t)).mean((2, 3)))
        return torch.cat(out, 1)

    return forward


class PatchLogistic(ClassifierMixin, BaseEstimator):
    """Logistic regression trained on every patch (label of its image), predicting an image
    by the mean of its patches' probabilities."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        n, p, d = X.shape
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=5000))
        self.model_.fit(X.reshape(n * p, d), np.repeat(y, p))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        n, p, d = X.shape
        return self.model_.predict_proba(X.reshape(n * p, d)).reshape(n, p, -1).mean(1)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


class BlockEnsemble(ClassifierMixin, BaseEstimator):
    """One logistic regression per block of columns (one view of the image), probabilities
    averaged."""

    def __init__(self, widths=(2024,), C=1.0):
        self.widths = widths
        self.C = C

    def _blocks(self, X):
        edges = np.cumsum((0, *self.widths))
        return [X[:, a:b] for a, b in zip(edges[:-1], edges[1:])]

    def fit(self, X, y):
        self.models_ = [make_pipeline(StandardScaler(), LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=5000)).fit(B, y)
            for B in self._blocks(X)]
        self.classes_ = self.models_[0].classes_
        return self

    def predict_proba(self, X):
        return np.mean([m.predict_proba(B) for m, B in zip(self.models_, self._blocks(X))], 0)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def patch_logistic():
    return PatchLogistic(), {"C": C_GRID}


def scattering_features(paths, size, J=3, pool=2):
    from skin_estimators.networks import Scattering2D

    mean = np.array([0.6475, 0.4907, 0.4165]); std = np.array([0.1875, 0.1598, 0.1460])
    x = (images(paths, size) / 255.0 - mean) / std
    x = torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32))
    S = Scattering2D(J, (size, size), 8, 2, learnable=False)
    out = []
    with torch.no_grad():
        for flip in (False, True):
            coefs = [S(torch.flip(b, [3]) if flip else b) for b in x.split(4)]
            coefs = [torch.nn.functional.adaptive_avg_pool2d(c, pool).flatten(1) for c in coefs]
            out.append(torch.cat(coefs).numpy())
    return np.stack(out, 1)


FEATURES = {
    **{f"{v}_{s}": (lambda p, v=v, s=s: effnet_features(p, v, s))
       for v in ("lite0", "lite1", "lite2") for s in (224, 300)},
    "scat_224": lambda p: scattering_features(p, 224),
    **{f"{v}ms_{s}": (lambda p, v=v, s=s: stage_features(p, v, s))
       for v in ("lite0", "lite2") for s in (224, 300)},
    **{f"{v}msstd_{s}": (lambda p, v=v, s=s: stage_features(p, v, s, std=True))
       for v in ("lite0",) for s in (224, 300)},
    "lite0ms1_224": lambda p: stage_features(p, "lite0", 224, stages=(1, 2, 3, 4, 5, 6)),
    **{f"lite0ms_{s}": (lambda p, s=s: stage_features(p, "lite0", s)) for s in (160, 192, 256)},
    "lite0msgw_224": lambda p: stage_features(p, "lite0", 224),  # run with GRAYWORLD=1
    "lite0patch150_224": lambda p: patch_features(p, "lite0"),
    "lite0mspatch150_224": lambda p: patch_features(p, "lite0", stages=(2, 3, 4, 5, 6)),
    "lite0mspatch200_224": lambda p: patch_features(p, "lite0", crop=200,
                                                    stages=(2, 3, 4, 5, 6)),
}


def feature_file(name):
    return os.path.join(OUT, f"{name}.npy")


def compute_features(names):
    os.makedirs(OUT, exist_ok=True)
    paths, *_ = dataset()
    for name in names:
        if os.path.exists(feature_file(name)):
            continue
        t = time.time()
        F = FEATURES[name](paths)
        np.save(feature_file(name), F.astype(np.float32))
        print(f"features {name} {F.shape} {time.time() - t:.0f} s", flush=True)


def load(name, mirror="mean"):
    F = np.load(feature_file(name))
    return F.mean(1) if mirror == "mean" else F[:, 0]


def logistic(C_grid=C_GRID, pca=None):
    steps = [StandardScaler()]
    if pca:
        steps.append(PCA(pca, random_state=0))
    steps.append(LogisticRegression(class_weight="balanced", max_iter=5000))
    return make_pipeline(*steps), {"logisticregression__C": C_grid}


LITE0_GROUPS = [40, 80, 112, 192, 320, 1280]  # channels of stages 2-6 and of the head


def balanced_logistic(groups=LITE0_GROUPS, C_grid=C_GRID):
    """Standardise, then scale each stage's block by 1/sqrt(its width): every stage gets the
    same total weight in the L2 penalty (the head's 1280 columns no longer dominate)."""
    scale = np.concatenate([np.full(g, 1 / np.sqrt(g)) for g in groups])
    return make_pipeline(StandardScaler(), FunctionTransformer(lambda X: X * scale),
                         LogisticRegression(class_weight="balanced", max_iter=5000)), {
        "logisticregression__C": [c * 10 for c in C_grid]}


def shrinkage_lda():
    """Linear discriminant analysis with Ledoit-Wolf shrinkage and equal class priors: no
    hyperparameter to choose (the grid below is empty), so no inner-CV selection noise."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(
        solver="lsqr", shrinkage="auto", priors=np.full(3, 1 / 3))), {}


def l2norm():
    return FunctionTransformer(lambda X: X / np.linalg.norm(X, axis=1, keepdims=True))


def cv_score(X, y, groups, build, seed):
    """Outer grouped CV; the C of each outer fold chosen by an inner grouped grid search."""
    outer = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
    pred = np.empty_like(y)
    chosen = []
    for train, test in outer.split(X, y, groups):
        model, grid = build()
        inner = StratifiedGroupKFold(3, shuffle=True, random_state=seed)
        if not grid:
            chosen.append({})
            pred[test] = model.fit(X[train], y[train]).predict(X[test])
            continue
        search = GridSearchCV(model, grid, scoring="balanced_accuracy", cv=inner)
        search.fit(X[train], y[train], groups=groups[train])
        chosen.append(search.best_params_)
        pred[test] = search.predict(X[test])
    return balanced_accuracy_score(y, pred), chosen


def pixels(paths, side):
    x = images(paths, 298)
    return np.stack([np.asarray(Image.fromarray(a).resize((side, side), Image.BOX), np.float32)
                     .ravel() / 255 for a in x])


def candidates(paths):
    c = {}
    for v in ("lite0", "lite1", "lite2"):
        for s in (224, 300):
            c[f"LR on {v} @{s}, image+mirror"] = (lambda v=v, s=s: load(f"{v}_{s}"), logistic)
    c["LR on lite0 @224, image only"] = (lambda: load("lite0_224", "first"), logistic)
    c["LR on lite0+lite2 @300 (concat)"] = (
        lambda: np.hstack([load("lite0_300"), load("lite2_300")]), logistic)
    c["LR on scattering J=3 2x2 @224"] = (lambda: load("scat_224"), logistic)
    c["LR on lite2 @300 + scattering"] = (
        lambda: np.hstack([load("lite2_300"), load("scat_224")]), logistic)
    for v in ("lite0", "lite2"):
        for s in (224, 300):
            c[f"LR on {v} stages 2-6 + head means @{s}"] = (
                lambda v=v, s=s: load(f"{v}ms_{s}"), logistic)
    c["LR on lite0 stages 2-6 + head mean+std @300"] = (lambda: load("lite0msstd_300"), logistic)
    c["LR on lite0 stages 2-6 + head mean+std @224"] = (lambda: load("lite0msstd_224"), logistic)
    c["LR on lite0 stages 2-6 means (no head) @224"] = (lambda: load("lite0ms_224")[:, :744],
                                                        logistic)
    c["LR on lite0 stages 2-6 + head means @224, stages weighted equally"] = (
        lambda: load("lite0ms_224"), balanced_logistic)
    c["LR on lite0 stages 1-6 + head means @224"] = (lambda: load("lite0ms1_224"), logistic)
    c["LR on lite0 + lite2 stages 2-6 + head means @224"] = (
        lambda: np.hstack([load("lite0ms_224"), load("lite2ms_224")]), logistic)
    c["LR on lite0 3x3 patches (150 px -> 224), mean of patch+mirror features"] = (
        lambda: np.load(feature_file("lite0patch150_224")).mean((1, 2)), logistic)
    c["patch-level LR on lite0 3x3 patches (150 px -> 224) x mirror, mean proba"] = (
        lambda: np.load(feature_file("lite0patch150_224")).reshape(102, 18, -1), patch_logistic)
    for s in (160, 192, 256):
        c[f"LR on lite0 stages 2-6 + head means @{s}"] = (lambda s=s: load(f"lite0ms_{s}"),
                                                          logistic)
    c["LDA (shrinkage) on lite0 stages 2-6 + head means @224"] = (lambda: load("lite0ms_224"),
                                                                  shrinkage_lda)
    c["LDA (shrinkage) on lite0 @224, image+mirror"] = (lambda: load("lite0_224"), shrinkage_lda)
    c["LR on lite0 3x3 patches, stages 2-6 + head means, mean over patches+mirrors"] = (
        lambda: np.load(feature_file("lite0mspatch150_224")).mean((1, 2)), logistic)
    c["LR on lite0 stages 2-6 + head @224 ++ 3x3 patch means"] = (
        lambda: np.hstack([load("lite0ms_224"),
                           np.load(feature_file("lite0mspatch150_224")).mean((1, 2))]), logistic)
    c["patch-level LR on lite0 3x3 patches, stages 2-6 + head means, mean proba"] = (
        lambda: np.load(feature_file("lite0mspatch150_224")).reshape(102, 18, -1),
        patch_logistic)
    c["LR on lite0 3x3 patches of 200 px, stages 2-6 + head means, mean over patches+mirrors"] = (
        lambda: np.load(feature_file("lite0mspatch200_224")).mean((1, 2)), logistic)
    c["LR on lite0 stages 2-6 + head means @224, grey-world colour"] = (
        lambda: load("lite0msgw_224"), logistic)
    c["ensemble (mean proba) of 3 LRs: stages+head @224, 3x3 patches 150 px, 3x3 patches 200 px"] = (
        lambda: np.hstack([load("lite0ms_224"),
                           np.load(feature_file("lite0mspatch150_224")).mean((1, 2)),
                           np.load(feature_file("lite0mspatch200_224")).mean((1, 2))]),
        lambda: (BlockEnsemble((2024, 2024, 2024)), {"C": C_GRID}))
    c["probe: LR on 8x8 pixels"] = (lambda: pixels(paths, 8), logistic)
    c["probe: LR on 2x2 pixels"] = (lambda: pixels(paths, 2), logistic)
    c["probe: LR on mean colour"] = (lambda: pixels(paths, 1), logistic)
    return c


def stage4_inputs(paths, variant="lite0", size=224, upto=5):
    """The activations entering stage ``upto`` (frozen part), for every image and mirror."""
    from skin_estimators.networks import efficientnet_lite

    model = efficientnet_lite(variant, num_classes=0).eval()
    x = torch.from_numpy(images(paths, size)).permute(0, 3, 1, 2).float() / 255
    x = (x - 0.5) / 0.5
    out = []
    with torch.no_grad():
        for flip in (False, True):
            acts = []
            for b in x.split(8):
                t = model.bn1(model.conv_stem(torch.flip(b, [3]) if flip else b))
                for stage in model.blocks[:upto]:
                    t = stage(t)
                acts.append(t)
            out.append(torch.cat(acts))
    return torch.stack(out, 1)  # (n, 2, C, h, w)


def finetune_fold(acts, y, train, test, seed, variant="lite0", upto=5, epochs=15, lr=0.01,
                  batch=16):
    """Fine-tune stages >= upto, the head convolution and a new linear head, from the
    ImageNet weights; the earlier stages stay frozen (their outputs are precomputed)."""
    from skin_estimators.networks import efficientnet_lite

    torch.manual_seed(seed)
    full = efficientnet_lite(variant, num_classes=3)
    top = torch.nn.Sequential(*full.blocks[upto:], full.conv_head, full.bn2,
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Dropout(0.2), full.classifier)
    counts = np.bincount(y[train], minlength=3)
    weight = torch.tensor(len(train) / (3 * counts), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.SGD(top.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    yt = torch.from_numpy(y)
    rng = np.random.RandomState(seed)
    for _ in range(epochs):
        top.train()
        order = rng.permutation(train)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            if len(idx) < 2:
                continue
            flips = torch.from_numpy(rng.randint(0, 2, len(idx)))
            xb = acts[torch.from_numpy(idx), flips]
            opt.zero_grad()
            loss_fn(top(xb), yt[idx]).backward()
            opt.step()
        sched.step()
    top.eval()
    with torch.no_grad():
        t = torch.from_numpy(test)
        proba = (top(acts[t, 0]).softmax(1) + top(acts[t, 1]).softmax(1)) / 2
    return proba.argmax(1).numpy()


def run_finetune(epochs=15, lr=0.01, upto=5):
    paths, y, groups, _ = dataset()
    t0 = time.time()
    acts = stage4_inputs(paths, upto=upto)
    print(f"frozen stages 0-{upto - 1}: {tuple(acts.shape)} in {time.time() - t0:.0f} s", flush=True)
    scores = []
    t = time.time()
    for seed in SEEDS:
        pred = np.empty_like(y)
        for train, test in StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
                y, y, groups):
            pred[test] = finetune_fold(acts, y, train, test, seed, upto=upto, epochs=epochs, lr=lr)
        scores.append(balanced_accuracy_score(y, pred))
        print(f"  seed {seed}: {scores[-1]:.3f} ({time.time() - t:.0f} s)", flush=True)
    print(f"| fine-tuned lite0 stages {upto}-6 + head @224 (SGD lr {lr}, {epochs} epochs, "
          f"fixed recipe) | - | {np.mean(scores):.3f} ± {np.std(scores):.3f} | "
          f"{' '.join(f'{s:.3f}' for s in scores)} | - | {time.time() - t:.0f} s |", flush=True)


def run_cv(only):
    paths, y, groups, _ = dataset()
    print(f"{len(y)} images, {len(set(groups))} page groups", flush=True)
    rows = []
    for name, (features, build) in candidates(paths).items():
        if only and not any(o in name for o in only):
            continue
        X = features()
        t = time.time()
        scores, chosen = zip(*(cv_score(X, y, groups, build, s) for s in SEEDS))
        Cs = sorted({v for ch in chosen for p in ch for v in p.values()})
        rows.append((name, np.mean(scores), np.std(scores), scores, time.time() - t))
        print(f"| {name} | {X.shape[1]} | {np.mean(scores):.3f} ± {np.std(scores):.3f} | "
              f"{' '.join(f'{s:.3f}' for s in scores)} | {Cs} | {time.time() - t:.0f} s |",
              flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["features", "cv", "all", "finetune"], default="all",
                        nargs="?")
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    if args.step == "finetune":
        run_finetune(epochs=int(os.environ.get("EPOCHS", 15)), lr=float(os.environ.get("LR", 0.01)),
                     upto=int(os.environ.get("UPTO", 5)))
    if args.step in ("features", "all"):
        compute_features([n for n in FEATURES if not args.only or n in args.only])
    if args.step in ("cv", "all"):
        print("| candidate | features | macro recall mean ± std (seeds 0,1,2) | per seed | "
              "C chosen (inner CV) | CV time |")
        print("|---|---|---|---|---|---|")
        run_cv(args.only)
