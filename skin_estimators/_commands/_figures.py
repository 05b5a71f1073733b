"""The pictures the commands write (matplotlib, Agg backend, imported only when drawing)."""

import os

from .._internal import atomic_savefig
from ._common import display_name

__all__ = ["class_distribution", "confusion_matrix", "contact_sheet", "samples_grid",
           "size_histograms"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _thumbnail(path, side=256):
    from PIL import ImageOps

    from .._internal import open_image

    with open_image(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((side, side))
        return im.copy()


def _save(fig, path):
    plt = _pyplot()
    fig.tight_layout()
    try:
        atomic_savefig(fig, path, dpi=100)  # never a partial or empty PNG
    finally:
        plt.close(fig)


def confusion_matrix(y_true, y_pred, labels, path):
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.6 * len(labels) + 2, 1.4 * len(labels) + 1.5))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, ax=ax,
                                            colorbar=False, cmap="Blues")
    ax.set_title("Confusion matrix (test images)")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    _save(fig, path)


def contact_sheet(rows, path, ncols=4):
    """Thumbnails of (path, true, predicted, probability) rows, titled with the labels."""
    plt = _pyplot()
    if not rows:
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.axis("off")
        _save(fig, path)
        return
    ncols = min(ncols, len(rows))
    nrows = -(-len(rows) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (img_path, true, pred, prob) in zip(axes.ravel(), rows, strict=False):
        try:
            ax.imshow(_thumbnail(img_path))
        except OSError:
            ax.text(0.5, 0.5, "unreadable", ha="center", va="center")
        # display_name: a file name that is not UTF-8 would stop matplotlib from drawing.
        ax.set_title(f"{display_name(os.path.basename(img_path))}\ntrue: {true}\npredicted: {pred} "
                     f"(p={prob:.2f})", fontsize=8)
    _save(fig, path)


def class_distribution(counts, path):
    plt = _pyplot()
    names, values = list(counts), list(counts.values())
    fig, ax = plt.subplots(figsize=(1.5 * len(names) + 2, 3.5))
    bars = ax.bar(names, values, color="tab:blue")
    ax.bar_label(bars)
    ax.set_ylabel("images")
    ax.set_title("Images per class")
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    _save(fig, path)


def size_histograms(widths, heights, path):
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, values, name in zip(axes, (widths, heights), ("width", "height"), strict=True):
        ax.hist(values, bins=min(20, max(1, len(set(values)))), color="tab:blue")
        ax.set_xlabel(f"{name} (pixels)")
        ax.set_ylabel("images")
        ax.set_title(f"Image {name}s: {min(values)} to {max(values)}")
    _save(fig, path)


def samples_grid(examples, path):
    """``examples``: {class: [paths]}; one row per class."""
    plt = _pyplot()
    ncols = max(len(v) for v in examples.values())
    nrows = len(examples)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.5 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (name, paths) in enumerate(examples.items()):
        for c, p in enumerate(paths):
            axes[r, c].imshow(_thumbnail(p, 200))
        axes[r, 0].set_title(name, loc="left", fontsize=10)
    _save(fig, path)
