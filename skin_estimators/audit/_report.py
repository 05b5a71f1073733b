"""``write_audit_report``: the audit as ``report.md``, ``audit.json`` and pictures."""

import json
import os

from ..utils._atomic import atomic_open
from ._findings import headline_protocol

__all__ = ["write_audit_report"]

_JSON_KEYS = [
    "n_images", "class_names", "class_counts", "n_groups", "chance", "protocols", "notes",
    "findings", "shortcuts", "corner_probe", "size_probe", "n_large", "duplicates",
    "duplicate_threshold", "software", "settings", "seconds",
]


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _score_table(rows, protocols, label="property"):
    names = list(dict.fromkeys(r["property"] for r in rows))
    kinds = list(dict.fromkeys(r.get("inputs") for r in rows))
    header = ([] if kinds == [None] else ["inputs"]) + [label] + [
        f"macro recall, {p}" for p in protocols] + ["chance"]
    body = []
    for kind in kinds:
        for name in names:
            cells = []
            for p in protocols:
                r = next((r for r in rows if r["property"] == name and r["protocol"] == p
                          and r.get("inputs") == kind), None)
                spread = "" if r is None or r["macro_recall_std"] is None else \
                    f" ± {r['macro_recall_std']:.3f}"
                cells.append("" if r is None else f"{r['macro_recall']:.3f}{spread}"
                             + (" **flagged**" if r["flagged"] else ""))
            if any(cells):
                chance = next(r["chance"] for r in rows if r["property"] == name)
                body.append(([] if kinds == [None] else [kind]) + [name, *cells,
                                                                   f"{chance:.3f}"])
    return _table(header, body)


def _markdown(result, pictures):
    protocols = result.protocols
    s = result.settings
    lines = [
        "# Shortcut audit",
        "",
        f"{result.n_images} images, {len(result.class_names)} classes ("
        + ", ".join(f"{c} {n}" for c, n in result.class_counts.items()) + ")"
        + (f", {result.n_groups} groups" if result.n_groups is not None else ", no groups")
        + f". Chance level of macro recall: {result.chance:.3f}. CV: {s['n_splits']} folds, "
        f"seeds {s['seeds']}, protocols {', '.join(protocols) or 'none'}; a score is flagged "
        f"when it is at least {s['margin']} above chance.",
        "",
        "## Findings",
        "",
        *[f"- {line}" for line in result.findings],
        *[f"- Note: {note}" for note in result.notes],
        "",
        "## Shortcut baselines",
        "",
        f"{s['shortcut_model']} on each property alone, macro recall (mean ± std over folds). "
        "What a model could score without looking at the skin.",
        "",
        *_score_table(result.shortcuts, protocols),
        "",
    ]
    if result.software:
        lines += [f"EXIF Software values: {', '.join(result.software)}.", ""]
    if "shortcuts.png" in pictures:
        lines += ["![shortcut baselines](shortcuts.png)", ""]
    lines += [
        "## Corner probe",
        "",
        f"{s['probe_model']} on summaries (colour, contrast, near-white and near-black area, "
        f"edges) of the four corner crops (15 % of each side) of the images at "
        f"{s['image_size']} px"
        + (", plain (stretched) and after the controlled pipeline "
           f"{s['controlled_inputs']}" if s["controlled"] else "")
        + ".",
        "",
        *_score_table(result.corner_probe, protocols, label="corners"),
        "",
    ]
    for name in ("corners.png", "corners_controlled.png"):
        if name in pictures:
            kind = "controlled" if "controlled" in name else "uncontrolled"
            lines += [f"![corners per class, {kind} inputs]({name})", ""]
    lines += ["## Size probe", ""]
    if result.size_probe:
        lines += [
            f"{s['probe_model']} on spectral-energy summaries of the image at "
            f"{s['image_size']} px, asked whether the original photo was >= 1000 px on a side "
            f"({result.n_large} of {result.n_images} were). Macro recall of the predictions of "
            "all folds pooled; chance 0.5.",
            "",
            *_score_table(result.size_probe, protocols, label="target"),
            "",
        ]
    else:
        lines += ["Skipped (see the notes).", ""]
    lines += [
        "## Near-duplicates",
        "",
        f"The closest pairs: distance = 1 - best correlation of 12x12 grey thumbnails over "
        f"90 % crops (below {result.duplicate_threshold} = near-duplicate); pHash: bits that "
        "differ in the 64-bit perceptual hash.",
        "",
        *_table(
            ["a", "b", "distance", "pHash", "near-duplicate", "different page/group",
             "different class"],
            [[d["a"], d["b"], f"{d['distance']:.4f}", d["phash_distance"],
              "yes" if d["near_duplicate"] else "", _yes(d["cross_page"]),
              _yes(d["cross_class"])] for d in result.duplicates],
        ),
        "",
    ]
    if "duplicates.png" in pictures:
        lines += ["![closest pairs](duplicates.png)", ""]
    lines += [
        "## Run",
        "",
        "Seconds: " + ", ".join(f"{k} {v}" for k, v in result.seconds.items())
        + f". Headline protocol: {headline_protocol(result) if protocols else 'none'}.",
        "",
    ]
    return "\n".join(lines)


def _yes(value):
    return "?" if value is None else ("yes" if value else "")


def write_audit_report(result, out, pictures=True):
    """Write an audit to the folder ``out``: ``report.md``, ``audit.json`` and pictures.

    Parameters
    ----------
    result : Bunch
        What :func:`audit_images` returned.
    out : str or path-like
        The folder; created if missing, files in it are replaced. Each file is written to a
        temporary file beside it and renamed when complete, so that an interrupted run or
        a full disk never leaves a partial or empty file behind.
    pictures : bool, default=True
        Also draw ``shortcuts.png`` (each property's macro recall against chance),
        ``corners.png`` (the corners of a few images per class) and ``duplicates.png``
        (the closest pairs side by side); needs matplotlib.

    Returns
    -------
    paths : list of str
        The files written.

    Raises
    ------
    OSError
        If a file cannot be written (full disk, no permission); the message names it.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skin_estimators.audit import audit_images, write_audit_report
    >>> rng = np.random.default_rng(0)
    >>> root, files = Path(tempfile.mkdtemp()), []
    >>> for i in range(20):
    ...     files.append(root / f"{i}.png")
    ...     Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(files[-1])
    >>> result = audit_images(files, ["a", "b"] * 10, image_size=32, n_duplicates=2,
    ...                       n_estimators=30)
    >>> paths = write_audit_report(result, root / "audit", pictures=False)
    >>> sorted(Path(p).name for p in paths)
    ['audit.json', 'report.md']
    >>> sorted(json.loads((root / "audit" / "audit.json").read_text())["shortcuts"][0])
    ['chance', 'class_recall', 'flagged', 'macro_recall', 'macro_recall_std', 'property', 'protocol']
    """
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)
    written = []
    drawn = []
    if pictures:
        from ._figures import draw_all

        drawn = draw_all(result, out)
        written += [os.path.join(out, name) for name in drawn]
    path = os.path.join(out, "report.md")
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(_markdown(result, drawn))
    written.insert(0, path)
    path = os.path.join(out, "audit.json")
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump({k: result[k] for k in _JSON_KEYS}, f, indent=1)
        f.write("\n")
    written.insert(1, path)
    return written
