"""Speed of a CNN cross-validation: the library against a plain PyTorch loop written as the study's.

Both run the same 2-fold, 2-epoch cross-validation of the vanilla CNN at 400x400 (batch 4,
SGD lr 1e-4, class-weighted cross-entropy, random horizontal flips) in this one process, after
imports, three times each (alternating); the medians and their ratio are printed.

* plain: torchvision ``ImageFolder`` decoding and resizing every JPEG in every epoch, default
  NCHW memory layout, the study's fixed normalisation: what the study's notebooks did.
* library: ``ImageLoader`` -> ``ChannelNormalizer`` -> ``VanillaCNNClassifier`` in a Pipeline;
  images are decoded and resized once per cross-validation run (the loader's cache is
  cleared before each repetition, so no run profits from an earlier one), the CNN runs in
  channels-last layout.

Usage: SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/speed/cnn_speed.py [--repeats 3]
Goal: library time / plain time <= 0.8.
"""

import argparse
import statistics
import time

import numpy as np
import torch
import torchvision.transforms as T
from _common import header
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import DataLoader, Subset
from torchvision.datasets import ImageFolder

from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier, fetch_skin3
from skin_estimators.networks import VanillaCNN

SIZE, EPOCHS, BATCH, LR, FOLDS = 400, 2, 4, 1e-4, 2
STUDY_MEAN, STUDY_STD = [0.6475, 0.4907, 0.4165], [0.1875, 0.1598, 0.1460]


def plain_cv(root, folds):
    """The study's loop: ImageFolder decodes every image every epoch; NCHW; SGD."""
    train_tf = T.Compose([T.Resize((SIZE, SIZE)), T.RandomHorizontalFlip(), T.ToTensor(),
                          T.Normalize(STUDY_MEAN, STUDY_STD)])
    test_tf = T.Compose([T.Resize((SIZE, SIZE)), T.ToTensor(), T.Normalize(STUDY_MEAN, STUDY_STD)])
    train_ds, test_ds = ImageFolder(root, transform=train_tf), ImageFolder(root, transform=test_tf)
    y = np.array(train_ds.targets)
    for train, test in folds:
        torch.manual_seed(0)
        model = VanillaCNN(input_shape=(3, SIZE, SIZE), n_classes=3)
        weight = torch.tensor(compute_class_weight("balanced", classes=np.unique(y), y=y[train]),
                              dtype=torch.float32)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        loader = DataLoader(Subset(train_ds, train), batch_size=BATCH, shuffle=True)
        model.train()
        for _ in range(EPOCHS):
            for xb, yb in loader:
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            for xb, _ in DataLoader(Subset(test_ds, test), batch_size=BATCH):
                model(xb).argmax(1)


def library_cv(filenames, target, folds):
    pipe = make_pipeline(ImageLoader(size=SIZE), ChannelNormalizer(),
                         VanillaCNNClassifier(max_epochs=EPOCHS, batch_size=BATCH, lr=LR, random_state=0))
    for train, test in folds:
        clone(pipe).fit(filenames[train], target[train]).predict(filenames[test])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(header(torch.get_num_threads()), flush=True)

    data = fetch_skin3()
    root = str(data.root) if hasattr(data, "root") else str(
        __import__("pathlib").Path(data.filenames[0]).parents[1])
    # ImageFolder sorts classes and files as load_image_folder does: same indices, same folds.
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=42).split(data.filenames, data.target))
    assert [p.split("/")[-1] for p, _ in ImageFolder(root).samples] == [f.split("/")[-1] for f in data.filenames]

    times = {"plain": [], "library": []}
    for rep in range(args.repeats):
        t = time.perf_counter()
        plain_cv(root, folds)
        times["plain"].append(time.perf_counter() - t)
        ImageLoader.clear_cache()
        t = time.perf_counter()
        library_cv(data.filenames, data.target, folds)
        times["library"].append(time.perf_counter() - t)
        print(f"repeat {rep}: plain {times['plain'][-1]:.1f} s, library {times['library'][-1]:.1f} s", flush=True)
    plain, lib = statistics.median(times["plain"]), statistics.median(times["library"])
    print(f"\nmedian of {args.repeats}: plain {plain:.1f} s, library {lib:.1f} s "
          f"({torch.get_num_threads()} threads)")
    print(f"library time / plain time = {lib / plain:.2f}  (goal <= 0.8)")


if __name__ == "__main__":
    main()
