"""``skin-estimators describe DATA --out DIR``: a dataset's counts, sizes and channel statistics."""

import argparse
import os

from ._common import (
    CommandError,
    atomic_open,
    check_out_outside,
    data_folders,
    positive_int,
    say,
)

DESCRIPTION = """\
Describe a class-per-folder image dataset: images per class, the range of widths and heights,
and the per-channel mean and standard deviation (the normalisation statistics). Writes
class_distribution.png, sizes.png (width and height histograms), samples.png (a grid of
examples per class) and summary.json into DIR, and prints the summary.

The channel statistics are computed over every pixel of every image after resizing to
--size (default 400x400, the estimators' usual size, stretched as ImageLoader does), with values
scaled to [0, 1]: the numbers ChannelNormalizer learns from the same images at that size. Each
image thus weighs the same whatever its native resolution. The mean of the per-image standard
deviations is printed too: it is smaller (it leaves out the variation between images) and is
how the reference study computed its published std (0.1875, 0.1598, 0.1460; ChannelNormalizer's
"study" preset).
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "describe", help="class counts, image sizes, channel statistics and pictures of a dataset",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  skin-estimators describe ../shared/data/skin3 --out describe/\n",
    )
    p.add_argument("data", metavar="DATA",
                   help="folder with one sub-folder of images per class, or 'skin3' for the "
                        "study's dataset (fetch_skin3)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--size", type=positive_int, default=400,
                   help="side the images are resized to for the channel statistics "
                        "(default: 400)")
    p.add_argument("--samples-per-class", type=positive_int, default=6,
                   help="examples per class in samples.png (default: 6)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _upright_size(path):
    """(width, height) as displayed (after the EXIF orientation), or the reason it is unreadable."""
    from PIL import Image

    from .._internal import describe_error, open_image

    try:
        with open_image(path) as im:
            w, h = im.size
            if im.getexif().get(0x0112) in (5, 6, 7, 8):
                w, h = h, w
            return w, h
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow refuses huge images in open() itself (DecompressionBombError is neither).
        return describe_error(exc)


def channel_statistics(paths, size, progress=False, batch_size=16):
    """Per-channel mean and std over all pixels of ``paths`` resized to ``size`` (0..1 scale).

    Returns ``(mean, std, image_std, errors)``: ``std`` over all pixels (what
    ChannelNormalizer learns), ``image_std`` the mean of each image's own std (how the
    reference study computed its published "std"), errors as ``{path: reason}``.
    """
    import numpy as np
    from tqdm.auto import tqdm

    from ..inference import transform_files
    from ..preprocessing import ImageLoader

    loader = ImageLoader(size=size)
    total = np.zeros(3)
    total_sq = np.zeros(3)
    count = 0
    image_stds = []
    errors = {}
    with tqdm(total=len(paths), unit="img", desc="statistics", disable=not progress) as bar:
        for start in range(0, len(paths), batch_size):
            chunk = list(paths[start:start + batch_size])
            X, _, bad = transform_files(loader, chunk)
            errors.update({chunk[i]: r for i, r in bad.items()})
            if X is not None:
                x = X.reshape(-1, 3).astype(np.float64) / 255.0
                total += x.sum(axis=0)
                total_sq += (x * x).sum(axis=0)
                count += len(x)
                image_stds += list((X / 255.0).std(axis=(1, 2)))
            bar.update(len(chunk))
    if not count:
        return None, None, None, errors
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0))
    return mean, std, np.mean(image_stds, axis=0), errors


def run(args):
    import json

    import numpy as np

    from .. import fetch_skin3, load_image_folder
    from . import _figures

    try:
        data = fetch_skin3() if args.data == "skin3" else load_image_folder(args.data, groups=None)
    except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    check_out_outside(args.out, data_folders(args.data, data))
    os.makedirs(args.out, exist_ok=True)
    names = [str(n) for n in data.target_names]
    counts = {n: int(np.sum(data.target == n)) for n in names}

    sizes = {p: _upright_size(p) for p in data.filenames}
    unreadable = {p: s for p, s in sizes.items() if isinstance(s, str)}
    good = [p for p in sizes if p not in unreadable]
    widths = [sizes[p][0] for p in good]
    heights = [sizes[p][1] for p in good]
    mean, std, image_std, errors = channel_statistics(data.filenames, args.size, progress=not args.quiet)
    errors.update({p: r for p, r in unreadable.items() if p not in errors})

    summary = {
        "data": os.path.abspath(args.data) if args.data != "skin3" else "skin3",
        "n_images": int(len(data.filenames)), "classes": counts,
        "width": {"min": min(widths), "max": max(widths)} if widths else None,
        "height": {"min": min(heights), "max": max(heights)} if heights else None,
        "channel_statistics_size": args.size,
        "mean": None if mean is None else [round(float(v), 4) for v in mean],
        "std": None if std is None else [round(float(v), 4) for v in std],
        "mean_per_image_std": None if std is None else [round(float(v), 4) for v in image_std],
        "unreadable": errors,
    }
    with atomic_open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)

    _figures.class_distribution(counts, os.path.join(args.out, "class_distribution.png"))
    if widths:
        _figures.size_histograms(widths, heights, os.path.join(args.out, "sizes.png"))
    examples = {}
    readable = set(good) - set(errors)
    for n in names:
        paths = [p for p, t in zip(data.filenames, data.target, strict=True) if t == n and p in readable]
        k = min(args.samples_per_class, len(paths))
        examples[n] = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, k)] if k else []
    if any(examples.values()):
        _figures.samples_grid({n: v for n, v in examples.items() if v},
                              os.path.join(args.out, "samples.png"))

    print(f"{summary['n_images']} images in {len(names)} classes ({summary['data']})")
    for n, c in counts.items():
        print(f"  {n:<24} {c:>5}  ({100 * c / max(1, summary['n_images']):.1f}%)")
    if widths:
        print(f"width:  {min(widths)} to {max(widths)} pixels")
        print(f"height: {min(heights)} to {max(heights)} pixels")
    if mean is not None:
        print(f"channel mean (R, G, B) at {args.size}x{args.size}: "
              + ", ".join(f"{v:.4f}" for v in mean))
        print(f"channel std  (R, G, B) at {args.size}x{args.size}: "
              + ", ".join(f"{v:.4f}" for v in std) + "  (all pixels: ChannelNormalizer's)")
        print("mean per-image std (R, G, B):      "
              + ", ".join(f"{v:.4f}" for v in image_std)
              + "  (each image's own std, averaged: how the study computed its std)")
    for p, reason in errors.items():
        print(f"unreadable: {p}: {reason}")
    say(f"Pictures and summary.json written to {args.out}", quiet=args.quiet)
    return 1 if errors else 0
