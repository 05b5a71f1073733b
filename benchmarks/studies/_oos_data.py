"""Data of the out-of-scope-with-negatives study: the photos, their cached features.

The recommended model's front (controlled inputs -> ChannelNormalizer -> frozen
EfficientNet-Lite0 stage 2-6 means + head, mirror averaged) is frozen: its features depend
on no label and no fold, so they are computed once per photo set and cached (``.npz``):

* ``skin3``: the atlas (102 photos of the three diseases; the training set);
* ``sd198``: SD-198's photos of the three diseases (the YARDSTICK: never used to train or
  choose a detector, only to score it);
* ``sd198_other``: SD-198's 715 photos of 24 other conditions (the negatives), the condition
  as the group;
* ``far``: photos that are not skin (``_splits.far_images``, the trust study's too).
"""

import os
import sys
import tempfile
import time

import numpy as np
from _splits import far_images, front_pipeline  # this folder's shared module

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp")


def data_root():
    root = os.environ.get("SKIN_ESTIMATORS_DATA")
    if not root:
        raise SystemExit("set SKIN_ESTIMATORS_DATA to the folder holding skin3/, sd198/ and "
                         "sd198_other/")
    return root


def folder_images(folder):
    """``(paths, labels)`` of a folder with one sub-folder per label, sorted."""
    paths, labels = [], []
    for label in sorted(os.listdir(folder)):
        sub = os.path.join(folder, label)
        if not os.path.isdir(sub):
            continue
        for name in sorted(os.listdir(sub)):
            if name.lower().endswith(IMAGE_EXT):
                paths.append(os.path.join(sub, name))
                labels.append(label)
    return paths, np.asarray(labels)


def load_features(cache, color_constancy=None):
    """A dict of ``X_<set>`` feature tables, ``y_<set>`` labels and ``g_skin3`` pages."""
    suffix = f"_{color_constancy}" if color_constancy else ""
    path = os.path.join(cache, f"oos_features{suffix}.npz")
    if os.path.exists(path):
        with np.load(path) as f:
            return dict(f)
    from skin_estimators import fetch_skin3

    os.makedirs(cache, exist_ok=True)
    front = front_pipeline(color_constancy)
    skin3 = fetch_skin3()
    out = {"y_skin3": np.asarray(skin3.target), "g_skin3": np.asarray(skin3.groups)}
    front.fit(list(skin3.filenames)[:1])
    t0 = time.time()
    sets = {"skin3": list(skin3.filenames)}
    for name in ("sd198", "sd198_other"):
        sets[name], out[f"y_{name}"] = folder_images(os.path.join(data_root(), name))
    sets["far"] = far_images(os.path.join(cache, "far"))
    for name, files in sets.items():
        out[f"X_{name}"] = np.asarray(front.transform(files), dtype=np.float32)
        print(f"{name}: {len(files)} photos, {time.time() - t0:.0f} s", file=sys.stderr,
              flush=True)
    np.savez(path, **out)
    return out


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache",
                        default=os.path.join(tempfile.gettempdir(), "skin_estimators_oos"))
    parser.add_argument("--color-constancy", default=None)
    args = parser.parse_args()
    feats = load_features(args.cache, args.color_constancy)
    print({k: v.shape for k, v in feats.items()})
