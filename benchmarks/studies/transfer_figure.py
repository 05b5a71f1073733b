"""The picture of docs/user_guide/other_clinic.rst, from results/accuracy/transfer.csv.

    python benchmarks/studies/transfer_figure.py

Recall of each class (and the macro recall) of the recommended model on the 85 SD-198
photos, not adapted and adapted with each alignment (``transfer.py``'s first table).
"""

import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, os.pardir, os.pardir)
CLASSES = ("acne", "herpes simplex", "lichen planus")


def main(candidate="candidate_shades_of_gray"):
    rows = {}
    path = os.path.join(ROOT, "benchmarks", "results", "accuracy", "transfer.csv")
    with open(path, encoding="utf-8") as f:
        for row in csv.reader(f):
            if row[:2] == [candidate, "sd198"]:
                rows[row[2]] = [float(v) for v in row[3:7]]
    labels = ["macro recall", *CLASSES]
    x = np.arange(len(labels))
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for i, (method, values) in enumerate(rows.items()):
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, values, width,
               label="not adapted" if method == "none" else method)
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall on SD-198 (85 photos)")
    ax.axhline(0.75, color="grey", lw=0.8, ls="--")
    ax.legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.18))
    fig.tight_layout()
    out = os.path.join(ROOT, "docs", "_static", "other_clinic")
    os.makedirs(out, exist_ok=True)
    fig.savefig(os.path.join(out, "recall.png"), dpi=110)
    print(os.path.join(out, "recall.png"))


if __name__ == "__main__":
    main()
