"""The audit's pictures (matplotlib, Agg backend, imported only when drawing)."""

import os

import numpy as np

from ..utils._atomic import atomic_savefig

__all__ = ["draw_all"]

_PAIRS_SHOWN = 6


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    plt = _pyplot()
    fig.tight_layout()
    try:
        atomic_savefig(fig, path, dpi=90)  # never a partial or empty PNG
    finally:
        plt.close(fig)


def shortcuts(result, path):
    """Horizontal bars: each property's macro recall per protocol, a line at chance."""
    plt = _pyplot()
    names = list(dict.fromkeys(r["property"] for r in result.shortcuts))
    protocols = result.protocols
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(names) * len(protocols) + 1.4))
    height = 0.8 / max(1, len(protocols))
    for k, protocol in enumerate(protocols):
        values = [next(r["macro_recall"] for r in result.shortcuts
                       if r["property"] == name and r["protocol"] == protocol)
                  for name in names]
        ax.barh(np.arange(len(names)) + k * height, values, height=height, label=protocol)
    ax.axvline(result.chance, color="k", linestyle="--", label=f"chance ({result.chance:.2f})")
    ax.axvline(result.chance + result.settings["margin"], color="tab:red", linestyle=":",
               label="flagged above")
    ax.set_yticks(np.arange(len(names)) + height * (len(protocols) - 1) / 2, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("macro recall of a random forest on the property alone")
    ax.set_title("Shortcut baselines")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)


def corners(result, kind, path):
    """One row per class: the four corners of a few of its images, side by side."""
    plt = _pyplot()
    examples = result.corner_examples[kind]
    ncols = max(len(v) for v in examples.values())
    fig, axes = plt.subplots(len(examples), ncols, figsize=(1.9 * ncols, 1.2 * len(examples) + 0.6),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (name, crops) in enumerate(examples.items()):
        for c, (tl, tr, bl, br) in enumerate(crops):
            gap = np.full((tl.shape[0], 2, 3), 255, np.uint8)
            top = np.hstack([tl, gap, tr])
            bottom = np.hstack([bl, gap, br])
            axes[r, c].imshow(np.vstack([top, np.full((2, top.shape[1], 3), 255, np.uint8),
                                         bottom]))
        axes[r, 0].set_title(name, loc="left", fontsize=9)
    fig.suptitle(f"The four corners (15 % of each side) of {kind} inputs, per class",
                 fontsize=10)
    _save(fig, path)


def duplicates(result, path):
    """The closest pairs side by side, titled with their names and distance."""
    from PIL import ImageOps

    from ..utils._image_files import open_image

    plt = _pyplot()
    pairs = result.duplicates[:_PAIRS_SHOWN]
    if not pairs:
        return False
    full = dict(zip(result.names, result.filenames, strict=True))
    fig, axes = plt.subplots(len(pairs), 2, figsize=(6, 2.3 * len(pairs)), squeeze=False)
    for row, pair in zip(axes, pairs, strict=True):
        for ax, key in zip(row, ("a", "b"), strict=True):
            with open_image(full[pair[key]]) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
                im.thumbnail((256, 256))
                ax.imshow(np.asarray(im))
            ax.axis("off")
            ax.set_title(pair[key], fontsize=8)
        flags = [w for w, on in (("near-duplicate", pair["near_duplicate"]),
                                 ("different page", pair["cross_page"]),
                                 ("different class", pair["cross_class"])) if on]
        row[0].text(0, -0.22, f"distance {pair['distance']:.3f}  {', '.join(flags)}",
                    transform=row[0].transAxes, fontsize=8)
    _save(fig, path)
    return True


def draw_all(result, out):
    """Draw the pictures into ``out``; return the file names written."""
    drawn = []
    if result.shortcuts:
        shortcuts(result, os.path.join(out, "shortcuts.png"))
        drawn.append("shortcuts.png")
    for kind in result.corner_examples:
        name = "corners.png" if kind == "uncontrolled" else f"corners_{kind}.png"
        corners(result, kind, os.path.join(out, name))
        drawn.append(name)
    if duplicates(result, os.path.join(out, "duplicates.png")):
        drawn.append("duplicates.png")
    return drawn
