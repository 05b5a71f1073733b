"""``audit_images``: look for what a model could learn instead of the disease."""

import os
import time

import numpy as np
from joblib import effective_n_jobs
from PIL import Image
from sklearn.utils import Bunch

from ..preprocessing import CONTROLLED_INPUTS, ImageLoader
from ._cv import available_protocols, cv_scores, shortcut_forest
from ._duplicates import (
    DUPLICATE_THRESHOLD,
    THUMBNAIL_INPUT,
    duplicate_distances,
    page_of,
    phash_bits,
)
from ._findings import findings
from ._probes import CORNERS, corner_crops, corner_features, size_features
from ._properties import FILE_PROPERTIES, GEOMETRY, file_properties, is_large
from ._statistics import IMAGE_STATISTICS, image_statistics

__all__ = ["audit_images"]

# Property groups scored together, beside each property alone.
_GROUPS = {
    "geometry (width, height, aspect)": list(GEOMETRY),
    "all properties": list(FILE_PROPERTIES) + list(IMAGE_STATISTICS),
}
_EXAMPLES_PER_CLASS = 6  # images per class in the corner montage


def _check(X, y, groups, seeds, n_splits, margin, n_duplicates, image_size, n_estimators):
    # Plain str: a NumPy string (from an array of paths) would show as np.str_('...') in
    # every message that names a file.
    filenames = [str(os.fsdecode(f)) for f in X]
    if len(filenames) < 2:
        raise ValueError(f"audit_images needs at least 2 images, got {len(filenames)}.")
    y = np.asarray(y)
    if y.shape != (len(filenames),):
        raise ValueError(
            f"audit_images: y must hold one label per image ({len(filenames)}), got shape "
            f"{y.shape}."
        )
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (len(filenames),):
            raise ValueError(
                f"audit_images: groups must hold one group per image ({len(filenames)}), "
                f"got shape {groups.shape}."
            )
    if len(np.unique(y)) < 2:
        raise ValueError("audit_images needs at least 2 classes in y.")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("audit_images: seeds must name at least one CV seed, e.g. (0,).")
    for name, value, low in [("n_splits", n_splits, 2), ("n_duplicates", n_duplicates, 0),
                             ("image_size", image_size, 32), ("n_estimators", n_estimators, 3)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"audit_images: {name} must be an int >= {low}, got {value!r}.")
    if not 0.0 < float(margin) < 1.0:
        raise ValueError(f"audit_images: margin must lie in (0, 1), got {margin!r}.")
    return filenames, y, groups, seeds


def _relative_names(filenames):
    """File names as in the data set: relative to the folder that holds all the classes."""
    paths = [os.path.abspath(f) for f in filenames]
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    if all(os.path.dirname(p) == root for p in paths):  # one folder: keep its name
        root = os.path.dirname(root)
    return [os.path.relpath(p, root).replace(os.sep, "/") for p in paths]


def _rows(scores, chance, margin, pooled=False, **fields):
    """Report rows; ``pooled``: score the pooled predictions rather than each fold (for a
    target that some test folds lack entirely, as the size probe's few large photos)."""
    rows = []
    for (name, protocol), s in scores.items():
        recall = s["pooled_macro_recall"] if pooled else s["macro_recall"]
        rows.append({
            **fields,
            "property": name,
            "protocol": protocol,
            "macro_recall": round(recall, 4),
            # a pooled score has no per-fold spread
            "macro_recall_std": None if pooled else round(s["macro_recall_std"], 4),
            "chance": round(chance, 4),
            "flagged": bool(recall - chance >= margin),
            "class_recall": {str(c): round(v, 3) for c, v in s["class_recall"].items()},
        })
    return rows


def _duplicate_pairs(images, names, y, groups, n_pairs, threshold):
    distance = duplicate_distances(images)
    bits = phash_bits(images)
    n = len(names)
    upper = np.triu_indices(n, 1)
    order = np.argsort(distance[upper], kind="stable")
    pairs = []
    for k in order[: max(n_pairs, int((distance[upper] < threshold).sum()))]:
        i, j = int(upper[0][k]), int(upper[1][k])
        base_i, base_j = names[i].rsplit("/", 1)[-1], names[j].rsplit("/", 1)[-1]
        page_i, page_j = page_of(base_i), page_of(base_j)
        if page_i is None or page_j is None:  # no atlas page in the name: use the groups
            page_i, page_j = (None, None) if groups is None else (groups[i], groups[j])
        pairs.append({
            "a": names[i],
            "b": names[j],
            "distance": round(float(distance[i, j]), 4),
            "phash_distance": int((bits[i] != bits[j]).sum()),
            "near_duplicate": bool(distance[i, j] < threshold),
            "cross_page": None if page_i is None else bool(page_i != page_j),
            "cross_class": bool(y[i] != y[j]),
        })
    return pairs


def _corner_examples(images, y, classes):
    out = {}
    for c in classes:
        members = np.flatnonzero(y == c)
        # spread over the class (files are sorted by name: batches sit together)
        idx = members[np.unique(np.linspace(0, len(members) - 1, _EXAMPLES_PER_CLASS).round()
                                .astype(int))]
        out[str(c)] = corner_crops(images[idx])
    return out


def audit_images(
    X,
    y,
    groups=None,
    *,
    controlled=False,
    image_size=256,
    n_splits=5,
    seeds=(0,),
    margin=0.15,
    n_duplicates=10,
    duplicate_threshold=DUPLICATE_THRESHOLD,
    n_estimators=300,
    n_jobs=None,
):
    """Look for shortcuts in a labelled set of image files: what a model could learn instead
    of the disease.

    Runs, on the files alone (no model of yours is involved):

    - **shortcut baselines**: a ``RandomForestClassifier(300, class_weight="balanced",
      min_samples_leaf=2)`` on each cheap property alone and on groups of them, scored by
      macro recall under the protocols the models are scored with (stratified and, with
      ``groups``, grouped; the mean over folds and seeds). File properties: width, height,
      aspect ratio, file size, JPEG quantisation tables, EXIF Software tag and DPI, JFIF
      header. Image statistics (CleanVision's scores): brightness (dark, light), blurriness,
      low information.
    - **corner probe**: a forest on summaries of the four corner crops (15 % of each side),
      each corner alone and all four: a high score means a watermark, frame or ruler that
      follows the class. With ``controlled=True`` it also probes the corners of the images
      after the controlled pipeline (:data:`~skin_estimators.preprocessing.CONTROLLED_INPUTS`),
      i.e. what a model fed those inputs sees.
    - **size probe**: a forest that tells, from the pixels of the resized image alone,
      whether the original photo was at least 1000 px on a side; on the plain (stretched)
      inputs and, with ``controlled=True``, on the controlled ones. Skipped where all
      photos are on one side of 1000 px.
    - **near-duplicates**: the ``n_duplicates`` closest pairs of images (crop-tolerant
      thumbnail correlation, with pHash distances beside), flagged below
      ``duplicate_threshold``, with whether the two files lie on different atlas pages
      (from the file names, else the groups) or in different classes.

    A score is *flagged* when its macro recall is at least ``margin`` above chance
    (1 / number of classes; 0.5 for the size probe).

    Parameters
    ----------
    X : list of str or path-like
        Image files.
    y : array-like of shape (n_images,)
        Their classes.
    groups : array-like of shape (n_images,), default=None
        Their groups (e.g. ``fetch_skin3().groups``), for the grouped protocol.
    controlled : bool, default=False
        Also probe the images after the controlled input pipeline.
    image_size : int, default=256
        Side of the images the probes look at (the model's input size).
    n_splits : int, default=5
        Folds of each cross-validation.
    seeds : sequence of int, default=(0,)
        Seeds of the CV splits; scores are averaged over all folds of all seeds.
    margin : float, default=0.15
        How far above chance a macro recall must be to be flagged.
    n_duplicates : int, default=10
        How many of the closest pairs to report (more if more are below the threshold).
    duplicate_threshold : float, default=DUPLICATE_THRESHOLD
        Distance below which a pair is called a near-duplicate.
    n_estimators : int, default=300
        Trees of the shortcut baselines' forests; the probes' forests have a third as many.
        Fewer trees run faster and vary more.
    n_jobs : int or None, default=None
        Parallel jobs: decoding threads, processes for the forests' fits and for
        CleanVision. ``None`` means 1 (unless in a ``joblib.parallel_config`` context).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``shortcuts``, ``corner_probe``, ``size_probe`` (lists of dicts with ``property``,
        ``protocol``, ``macro_recall``, ``macro_recall_std``, ``chance``, ``flagged`` and
        ``class_recall``), ``duplicates`` (dicts with ``a``, ``b``, ``distance``,
        ``phash_distance``, ``near_duplicate``, ``cross_page``, ``cross_class``),
        ``findings`` (sentences for the report), ``names`` (file names relative to the
        data set), ``filenames``, ``target``, ``class_names``, ``chance``, ``protocols``,
        ``notes``, ``settings``, ``seconds`` (time per part) and what the pictures need.
        :func:`write_audit_report` writes it to a folder.

    See Also
    --------
    write_audit_report : the report, ``audit.json`` and the pictures.

    Examples
    --------
    A data set with a planted shortcut: every "b" photo is twice as wide.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skin_estimators.audit import audit_images
    >>> rng = np.random.default_rng(0)
    >>> root, files, y = Path(tempfile.mkdtemp()), [], []
    >>> for i in range(30):
    ...     label = "ab"[i % 2]
    ...     pixels = rng.integers(0, 256, (40, 40 * (1 + (label == "b")), 3), dtype=np.uint8)
    ...     files.append(root / f"{i}.jpg")
    ...     Image.fromarray(pixels).save(files[-1])
    ...     y.append(label)
    >>> result = audit_images(files, y, image_size=32, n_duplicates=3, n_estimators=30)
    >>> [r["macro_recall"] for r in result.shortcuts if r["property"] == "aspect"]
    [1.0]
    >>> any("aspect" in line for line in result.findings)
    True
    """
    filenames, y, groups, seeds = _check(
        X, y, groups, seeds, n_splits, margin, n_duplicates, image_size, n_estimators
    )
    seconds, begin = {}, time.perf_counter()
    classes = np.unique(y)
    chance = 1.0 / len(classes)
    protocols, notes = available_protocols(y, groups, n_splits)
    names = _relative_names(filenames)

    # Decoded first: a file that cannot be read (corrupt, truncated, a decompression bomb, a
    # link that loops, a FIFO) stops the audit here, named with its reason in one error.
    start = time.perf_counter()
    plain = ImageLoader(size=image_size, n_jobs=n_jobs).transform(filenames)
    seconds["decoding"] = time.perf_counter() - start

    start = time.perf_counter()
    props, details = file_properties(filenames)
    props.update(image_statistics(filenames, n_jobs=effective_n_jobs(n_jobs)))
    tables = dict(props)
    for group, members in _GROUPS.items():
        tables[group] = np.hstack([props[m] for m in members])
    seconds["properties"] = time.perf_counter() - start

    start = time.perf_counter()
    scores = cv_scores(tables, y, groups, shortcut_forest(n_estimators), protocols, seeds,
                       n_splits, n_jobs)
    shortcuts = _rows(scores, chance, margin)
    seconds["shortcut baselines"] = time.perf_counter() - start

    start = time.perf_counter()
    inputs = {"uncontrolled": plain}
    if controlled:
        inputs["controlled"] = ImageLoader(
            size=image_size, n_jobs=n_jobs, **CONTROLLED_INPUTS
        ).transform(filenames)
    seconds["decoding"] += time.perf_counter() - start

    start = time.perf_counter()
    probe_trees = max(1, n_estimators // 3)
    probe = shortcut_forest(probe_trees)
    corner_probe = []
    for kind, images in inputs.items():
        scores = cv_scores(corner_features(images), y, groups, probe, protocols, seeds,
                           n_splits, n_jobs)
        corner_probe += _rows(scores, chance, margin, inputs=kind)
    large = is_large(details)
    size_probe = []
    size_protocols, size_notes = available_protocols(large, groups, n_splits)
    if size_protocols:
        for kind, images in inputs.items():
            scores = cv_scores({"original >= 1000 px": size_features(images)}, large, groups,
                               probe, size_protocols, seeds, n_splits, n_jobs)
            size_probe += _rows(scores, 0.5, margin, pooled=True, inputs=kind)
    else:
        notes.append("size probe skipped: " + size_notes[0].replace(
            "the smallest class", "the smaller side of 1000 px").replace(
            "all images are of one kind", "all photos are on one side of 1000 px"))
    seconds["probes"] = time.perf_counter() - start

    start = time.perf_counter()
    thumbs = np.stack([
        np.asarray(Image.fromarray(img).resize((THUMBNAIL_INPUT,) * 2, Image.Resampling.BOX))
        for img in plain
    ])
    duplicates = _duplicate_pairs(thumbs, names, y, groups, n_duplicates, duplicate_threshold)
    seconds["duplicates"] = time.perf_counter() - start
    seconds["total"] = time.perf_counter() - begin

    result = Bunch(
        n_images=len(filenames),
        class_names=classes.tolist(),
        class_counts={str(c): int((y == c).sum()) for c in classes},
        n_groups=None if groups is None else int(len(np.unique(groups))),
        chance=chance,
        protocols=protocols,
        notes=notes,
        shortcuts=shortcuts,
        corner_probe=corner_probe,
        size_probe=size_probe,
        n_large=int(large.sum()),
        duplicates=duplicates,
        duplicate_threshold=float(duplicate_threshold),
        names=names,
        filenames=filenames,
        target=y,
        software=details["software"],
        corner_examples={kind: _corner_examples(images, y, classes)
                         for kind, images in inputs.items()},
        settings={
            "controlled": bool(controlled),
            "controlled_inputs": dict(CONTROLLED_INPUTS) if controlled else None,
            "image_size": int(image_size),
            "n_splits": int(n_splits),
            "seeds": seeds,
            "margin": float(margin),
            "corners": list(CORNERS),
            "shortcut_model": f"RandomForestClassifier({n_estimators}, "
                              "class_weight='balanced', min_samples_leaf=2)",
            "probe_model": f"RandomForestClassifier({probe_trees}, class_weight='balanced', "
                           "min_samples_leaf=2)",
        },
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
    result.findings = findings(result)
    return result
