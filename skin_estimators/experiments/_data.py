"""The images of an experiment, decoded once, and its cross-validation splits."""

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from ._config import CONTROLLED
from ._rows import image_loader
from ._trust_negatives import load_config_negatives

__all__ = ["ExperimentData", "load_experiment_data", "load_experiment_files", "make_splits"]

#: What the grouped protocol is, in the words the outputs use.
GROUP_NOTE = (
    "The grouped protocol (StratifiedGroupKFold on atlas pages) is the figure that predicts "
    "performance on new patients: several photographs of one atlas page, often of the same "
    "patient, never fall on both sides of a split. The stratified protocol (the study's) lets "
    "them, and overestimates."
)

#: What the controlled protocol is.
CONTROLLED_NOTE = (
    "The controlled protocol is the grouped one (StratifiedGroupKFold on the leak-free groups) "
    "on controlled inputs (skin_estimators.preprocessing.CONTROLLED_INPUTS: the bottom 15 % "
    "with the watermark cut, a common pixel scale, the centre square): the cues of the image "
    "file (size, aspect, watermark) are removed, so it is the figure to trust. Compare every "
    "model with the shortcut baselines beside it."
)


@dataclass
class ExperimentData:
    """Decoded images and their labels, groups and file names."""

    images: np.ndarray | None  # uint8 (n, H, W, 3); None when no protocol needs them
    target: np.ndarray
    groups: np.ndarray | None
    filenames: np.ndarray
    target_names: np.ndarray
    description: str
    controlled_images: np.ndarray | None = None  # the controlled protocol's inputs
    # The out-of-scope score's negatives (trust.out_of_scope.negatives), decoded as the
    # inputs of each kind of protocol: {controlled (bool): images}; None without.
    negative_images: dict | None = None

    def inputs(self):
        """``{controlled (bool): images}``: what the folds of each kind of protocol see."""
        return {False: self.images, True: self.controlled_images}


def _subset(bunch, per_class):
    """The same evenly spread ``per_class`` images of each class, in the original order.

    Evenly spaced positions (rather than the first ones) keep several atlas pages per class,
    so grouped splits still work on a subset.
    """
    keep = []
    for name in bunch.target_names:
        idx = np.flatnonzero(bunch.target == name)
        if per_class < len(idx):
            idx = idx[np.unique(np.linspace(0, len(idx) - 1, per_class).round().astype(int))]
        keep.append(idx)
    keep = np.sort(np.concatenate(keep))
    for key in ("filenames", "target"):
        bunch[key] = bunch[key][keep]
    if bunch.get("groups") is not None:
        bunch["groups"] = bunch["groups"][keep]
    return bunch


def load_experiment_files(config, groups=True):
    """The config's image files: ``(bunch, where)``, the subset of ``images_per_class`` taken.

    ``bunch`` has ``filenames``, ``target``, ``target_names`` and ``groups`` (None with
    ``groups=False`` or ``data.groups: null``); ``where`` names the source in messages.
    """
    from skin_estimators import fetch_skin3, load_image_folder

    if config.data.fetch_skin3:
        bunch = fetch_skin3()
        where = "fetch_skin3()"
        if not groups or config.data.groups is None:
            bunch["groups"] = None
    else:
        from ._negatives import refuse_yardstick_files

        root = config.data_root()
        bunch = load_image_folder(root, groups=config.data.groups if groups else None)
        refuse_yardstick_files(bunch.filenames, path=config.source)
        where = str(root)
    if config.data.images_per_class:
        bunch = _subset(bunch, config.data.images_per_class)
    return bunch, where


def load_experiment_data(config):
    """Find the config's images, and decode and resize every one of them, once.

    Each fold then normalises its own training images (``ChannelNormalizer`` fitted on the
    training fold), so nothing is decoded again per fold or per epoch. The controlled
    protocol's inputs are decoded (once) only when a protocol of the config needs them, and
    the plain ones only when another protocol does.
    """
    bunch, where = load_experiment_files(config)
    protocols = config.cv.protocols
    decoded, negatives = {}, {}
    negative_files = load_config_negatives(config)
    for controlled in (False, True):
        if any((p == CONTROLLED) == controlled for p in protocols):
            # cache=False: the decoded array is kept here; the loader's cache would be a copy.
            loader = image_loader(config.image_size, config.resize, cache=False,
                                  controlled=controlled, color_constancy=config.color_constancy)
            decoded[controlled] = loader.transform(bunch.filenames)
            if negative_files is not None:
                negatives[controlled] = loader.transform(negative_files)
    h, w = next(iter(decoded.values())).shape[1:3]
    counts = ", ".join(f"{name} {int(np.sum(bunch.target == name))}" for name in bunch.target_names)
    groups = bunch.get("groups")
    n_groups = "" if groups is None else f", {len(np.unique(groups))} groups"
    kinds = [config.resize] * (False in decoded) + ["controlled inputs"] * (True in decoded)
    description = (f"{len(bunch.target)} images from {where} ({counts}{n_groups}), "
                   f"{h}x{w} ({', '.join(kinds)})")
    return ExperimentData(
        images=decoded.get(False), target=np.asarray(bunch.target), groups=groups,
        filenames=np.asarray(bunch.filenames), target_names=np.asarray(bunch.target_names),
        description=description, controlled_images=decoded.get(True),
        negative_images=negatives or None,
    )


def make_splits(data, protocol, n_splits, seed):
    """The ``(train, test)`` index pairs of one protocol and seed.

    ``"stratified"``: ``StratifiedKFold(n_splits, shuffle=True, random_state=seed)``, the
    default protocol. ``"group"``: ``StratifiedGroupKFold`` with the same arguments on the
    data's groups (atlas pages, near-duplicates across pages merged). ``"controlled"``: the
    same splits as ``"group"`` (its folds differ in their inputs, not their splits).
    """
    if protocol == "stratified":
        cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        return list(cv.split(data.filenames, data.target))
    if protocol in ("group", CONTROLLED):
        name = "grouped" if protocol == "group" else "controlled"
        if data.groups is None:
            raise ValueError(
                f"the {name} protocol needs groups, but the data has none (data.groups: null in "
                "the config?). Use cv.protocol: stratified, or give the images atlas-page names."
            )
        n_groups = len(np.unique(data.groups))
        if n_groups < n_splits:
            raise ValueError(
                f"the {name} protocol needs at least n_splits={n_splits} groups, but the data "
                f"has {n_groups}; lower cv.n_splits or use more images."
            )
        cv = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
        return list(cv.split(data.filenames, data.target, data.groups))
    raise ValueError(f"unknown CV protocol {protocol!r}; use 'stratified', 'group' or "
                     "'controlled'.")
