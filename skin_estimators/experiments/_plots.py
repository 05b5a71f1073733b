"""PNG figures for MLflow: confusion matrices and training-loss curves.

``matplotlib.figure.Figure`` directly (not pyplot): no GUI backend, no global figure state,
safe in a worker thread.
"""

import numpy as np

from ..utils._atomic import atomic_savefig

__all__ = ["confusion_matrix_png", "loss_curve_png"]


def confusion_matrix_png(path, matrix, labels, title):
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    # Fixed margins: a layout engine would cost a second draw per figure.
    fig = Figure(figsize=(5, 4.5))
    fig.subplots_adjust(left=0.3, bottom=0.25, right=0.97, top=0.92)
    ax = fig.add_subplot()
    ConfusionMatrixDisplay(np.asarray(matrix), display_labels=labels).plot(
        ax=ax, colorbar=False, cmap="Blues", xticks_rotation=30)
    ax.set_title(title, fontsize=10)
    atomic_savefig(fig, path, dpi=100)
    return path


def loss_curve_png(path, curves, title):
    """``curves``: {legend label: per-epoch train loss}."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.8))
    fig.subplots_adjust(left=0.14, bottom=0.14, right=0.97, top=0.9)
    ax = fig.add_subplot()
    for label, losses in curves.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss (class-weighted cross-entropy)")
    ax.set_title(title, fontsize=10)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    atomic_savefig(fig, path, dpi=100)
    return path
