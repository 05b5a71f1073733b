"""Second-order (bilinear) pooling and colour descriptors on the frozen EfficientNet-Lite0.

    SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/archive/texture_colour.py

Two kinds of photo descriptor that ``frozen_views.py`` did not try, both computed once per
photo (and its mirror, averaged) from the recommended model's frozen backbone or inputs:

* **bilinear pooling** (Lin, RoyChowdhury and Maji, "Bilinear CNN models for fine-grained
  visual recognition", 2015), the standard texture descriptor on CNN feature maps: the
  uncentred second moment ``F F^T / (h w)`` of one stage's output ``F`` (channels x
  positions), its upper triangle, signed square root, then L2 normalisation. Stages 4 (112
  channels) and 5 (192 channels), at 224 px and at 384 px (the sizes ``frozen_views.py``
  found best);
* **colour descriptors** of the controlled 224 px input: percentiles (5, 25, 50, 75, 95) of
  CIELAB L*, a*, b* and chroma C*, and a 12-bin hue histogram weighted by chroma (32 numbers).
  Lichen planus is violaceous, herpes simplex vesicles sit on an erythematous base: colour is
  what a dermatologist reads first.

Each is tried alone, joined to the recommended features (stage 2-6 means + head) and in a
soft vote with the recommended head, on plain and on Shades of Gray inputs. Every head is the
recommended one (StandardScaler, LogisticRegression C=0.01, balanced), fixed beforehand. The
splits are the controlled protocol's (``_splits.py``: StratifiedGroupKFold(5) on the atlas
pages, CV seeds 0, 1, 2). The last row chooses among all of these and the two recommended
inputs by an inner grouped CV inside each training fold: what the table is worth without
selecting on its test folds.
"""

import argparse
import os
import sys
import time

import numpy as np

from skin_estimators.preprocessing import CONTROLLED_INPUTS, ImageLoader

sys.path[1:1] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, folder)
                for folder in ("studies", "speed")]  # the shared _splits and _common
from _common import commit, feature_cache, machine  # noqa: E402 (benchmarks/speed)
from _frozen import TIMES, network, normalise, predict_nested, predict_one, score  # noqa: E402 (here)
from _splits import geometry_baseline, load_skin3, recall_table  # noqa: E402 (benchmarks/studies)

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN_STAGES = (2, 3, 4, 5, 6)
BILINEAR_STAGES = (4, 5)
SIZES = (224, 384)
COLOURS = (None, "shades_of_gray")


def bilinear(stage_map):
    """(b, c, h, w) -> (b, c (c + 1) / 2): signed-sqrt, L2-normalised second moment."""
    import torch

    f = stage_map.flatten(2).float()
    m = f @ f.transpose(1, 2) / f.shape[2]
    i, j = torch.triu_indices(m.shape[1], m.shape[1])
    v = m[:, i, j]
    v = v.sign() * v.abs().sqrt()
    return torch.nn.functional.normalize(v, dim=1)


def texture_forward(model, images, batch_size=8):
    """Normalised (n, 3, h, w) -> {"mean": (n, 2024), "bilinear4": ..., "bilinear5": ...}."""
    import torch

    out = {"mean": [], **{f"bilinear{s}": [] for s in BILINEAR_STAGES}}
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        x = torch.cat([x, x.flip(3)])
        with torch.inference_mode():
            t = model.bn1(model.conv_stem(x))
            means = []
            for i, stage in enumerate(model.blocks):
                t = stage(t)
                if i in MEAN_STAGES:
                    means.append(t.mean((2, 3)))
                if i in BILINEAR_STAGES:
                    b = bilinear(t).numpy()
                    out[f"bilinear{i}"].append((b[:len(b) // 2] + b[len(b) // 2:]) / 2)
            means.append(model.bn2(model.conv_head(t)).mean((2, 3)))
            m = torch.cat(means, 1).float().numpy()
            out["mean"].append((m[:len(m) // 2] + m[len(m) // 2:]) / 2)
    return {k: np.concatenate(v) for k, v in out.items()}


def srgb_to_lab(rgb):
    """uint8 sRGB (..., 3) -> CIELAB (..., 3), D65 white."""
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = c @ np.array([[0.4124, 0.3576, 0.1805],
                        [0.2126, 0.7152, 0.0722],
                        [0.0193, 0.1192, 0.9505]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def colour_descriptor(images):
    """uint8 (n, h, w, 3) -> (n, 32): Lab and chroma percentiles, chroma-weighted hue bins."""
    rows = []
    for img in images:
        lab = srgb_to_lab(img).reshape(-1, 3)
        chroma = np.hypot(lab[:, 1], lab[:, 2])
        hue = np.arctan2(lab[:, 2], lab[:, 1])
        channels = np.column_stack([lab, chroma])
        pct = np.percentile(channels, (5, 25, 50, 75, 95), axis=0).T.ravel()
        hist, _ = np.histogram(hue, bins=12, range=(-np.pi, np.pi), weights=chroma)
        rows.append(np.concatenate([pct, hist / max(hist.sum(), 1e-12)]))
    return np.asarray(rows, dtype=np.float32)


def compute(cache, filenames, model):
    os.makedirs(cache, exist_ok=True)
    out = {}
    for colour in COLOURS:
        tag = colour or "plain"
        for size in SIZES:
            name = f"centre{size}_{tag}"
            path = os.path.join(cache, f"{name}.npz")
            if not os.path.exists(path):
                t0 = time.time()
                raw = ImageLoader(size=size, cache=False, color_constancy=colour,
                                  **CONTROLLED_INPUTS).transform(filenames)
                arrays = texture_forward(model, normalise(raw))
                if size == 224:
                    t1 = time.time()
                    arrays["colour"] = colour_descriptor(raw)
                    arrays["colour_seconds"] = time.time() - t1
                np.savez(path, seconds=time.time() - t0, **arrays)
                print(f"{name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
            with np.load(path) as f:
                out[name] = {k: f[k] for k in f.files}
    return out


def candidates(feats):
    """name -> (feature tables soft-voted, feature seconds): every row of the table."""
    rows = {}
    for colour in COLOURS:
        tag = colour or "plain"
        label = " + Shades of Gray" if colour else ""
        rec = feats[f"centre224_{tag}"]
        s224 = float(rec["seconds"])
        rows[f"recommended features (224 px){label}"] = ([rec["mean"]], s224)
        for size in SIZES:
            f = feats[f"centre{size}_{tag}"]
            for stage in BILINEAR_STAGES:
                b = f[f"bilinear{stage}"]
                rows[f"bilinear stage {stage}, {size} px{label}"] = ([b], float(f["seconds"]))
                rows[f"recommended features + bilinear stage {stage}, {size} px, joined"
                     f"{label}"] = ([np.hstack([f["mean"], b])], float(f["seconds"]))
                rows[f"soft vote: recommended + bilinear stage {stage}, {size} px{label}"] = (
                    [f["mean"], b], float(f["seconds"]))
        col, cs = rec["colour"], float(rec["colour_seconds"])
        rows[f"colour descriptor alone (32 numbers){label}"] = ([col], cs)
        rows[f"recommended features + colour descriptor, joined{label}"] = (
            [np.hstack([rec["mean"], col])], s224)
        rows[f"soft vote: recommended + colour descriptor{label}"] = ([rec["mean"], col], s224)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache",
                                                        "skin_estimators_texture_colour"))
    parser.add_argument("--out", default=os.path.join(HERE, "results",
                                                      "texture_colour_table.md"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    filenames, y, groups = load_skin3(args.threads)
    classes = np.unique(y)
    t0 = time.time()
    feats = compute(feature_cache(args.cache, filenames), filenames, network())
    t_features = time.time() - t0
    rows = []
    every = candidates(feats)
    for name, (tables, seconds) in every.items():
        r = score(predict_one(tables), y, groups, classes)
        r.update(name=name, seconds=seconds)
        rows.append(r)
        print(f"{name}: fold {r['fold']:.3f} pooled {r['pooled']:.3f} "
              f"{np.round(r['per_class'], 3)}", file=sys.stderr, flush=True)
    chosen = {}
    r = score(predict_nested({k: v for k, (v, _) in every.items()}, chosen), y, groups, classes)
    r.update(name=f"**nested: one of the {len(every)} rows above chosen by an inner grouped "
                  "CV in each training fold**",
             seconds=sum(float(f["seconds"]) for f in feats.values()))
    rows.append(r)
    print(f"nested: fold {r['fold']:.3f} pooled {r['pooled']:.3f}; {chosen}", file=sys.stderr)
    t0 = time.time()
    r = geometry_baseline(filenames, y, groups)
    r.update(name="*baseline: image geometry (file width, height, aspect; not the pixels)*",
             seconds=0.0, head_s=time.time() - t0)
    rows.append(r)
    table = recall_table(rows, classes, TIMES)
    print(table)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(f"<!-- generated by benchmarks/archive/texture_colour.py; "
                 f"commit {commit(ignore=args.out)}; "
                 f"{machine()}; {args.threads} torch thread(s); features {t_features:.0f} s "
                 f"-->\n\n")
        fh.write(table)
        fh.write(f"\nNested choices over the 15 outer folds: "
                 f"{', '.join(f'{k}: {v}' for k, v in sorted(chosen.items()))}\n")


if __name__ == "__main__":
    main()
