"""Fitting the final model of one config row: a stratified split, the row's pipeline, its fit.

``skin-estimators train`` is this plus writing the files. The model is fitted on file paths
(``ImageLoader`` first), so it predicts from image files as the user will use it.
"""

import sys
from dataclasses import dataclass

import numpy as np

from ..utils._data_hash import data_hash
from ._config import ConfigError
from ._data import load_experiment_files
from ._fold import noticing_interrupts

__all__ = ["FinalFit", "config_as_run", "data_hash", "fit_final", "select_row"]


@dataclass
class FinalFit:
    """What :func:`fit_final` produced: the fitted pipeline, its split and its provenance.

    Attributes
    ----------
    model : sklearn.pipeline.Pipeline
        ``ImageLoader -> ChannelNormalizer -> estimator``, fitted on ``X_train``.
    row : Row
        The config row it was built from.
    X_train, y_train, X_test, y_test : ndarray
        File paths and labels of the split (the test arrays are empty with ``test_size=0``).
    training : dict
        What the model file records about its training data: ``data``, ``n_images``,
        ``class_counts``, ``data_sha256``, ``test_size``, ``random_state``.
    config : dict
        The trained setting as a one-row config of the same schema (see
        :func:`config_as_run`).

    Examples
    --------
    See :func:`fit_final` for a run; the fields:

    >>> import dataclasses
    >>> from skin_estimators.experiments import FinalFit
    >>> [f.name for f in dataclasses.fields(FinalFit)][:3]
    ['model', 'row', 'X_train']
    """

    model: object
    row: object
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    training: dict
    config: dict


def select_row(config, row=None):
    """The one row of ``config`` to train: ``row`` (an index), or the only one.

    Raises
    ------
    ConfigError
        If the config has several rows (models x grid values) and ``row`` is None, or if
        ``row`` is out of range; the message lists the rows.

    Examples
    --------
    >>> from skin_estimators.experiments import select_row, validate_config
    >>> config = validate_config({"data": "fetch_skin3", "models": [
    ...     {"name": "cnn", "grid": {"lr": [0.01, 0.001]}}]})
    >>> select_row(config, 1).params
    {'lr': 0.001}
    """
    rows = config.rows()
    if row is None and len(rows) == 1:
        return rows[0]
    listing = "; ".join(f"{i}: {r.model} {r.params}" for i, r in enumerate(rows))
    if row is None:
        raise ConfigError(config.source, [("models", (
            f"the config has {len(rows)} rows (models x grid values): {listing}. "
            "Train one of them with --row N (and/or --model NAME)"))])
    if not 0 <= row < len(rows):
        raise ConfigError(config.source, [("models", (
            f"--row {row} is out of range; the config has {len(rows)} rows: {listing}"))])
    return rows[row]


def config_as_run(config, row):
    """One row of ``config`` as a config of the same schema: ``train --config`` reruns it.

    Examples
    --------
    >>> from skin_estimators.experiments import validate_config
    >>> from skin_estimators.experiments._final import config_as_run
    >>> config = validate_config({"data": "fetch_skin3", "image_size": 32, "models": [
    ...     {"name": "cnn", "params": {"max_epochs": 1}, "grid": {"lr": [0.1, 0.01]}}]})
    >>> config_as_run(config, config.rows()[1])["models"]
    [{'name': 'cnn', 'params': {'max_epochs': 1, 'lr': 0.01}}]
    """
    per_class = config.data.images_per_class
    if config.data.fetch_skin3:
        data = {"fetch_skin3": True, "images_per_class": per_class} if per_class else "fetch_skin3"
    else:
        data = {"path": str(config.data_root())}
        if per_class:
            data["images_per_class"] = per_class
    out = {
        "data": data, "image_size": config.image_size, "resize": config.resize,
        "normalization": row.normalization, "device": config.device,
    }
    if config.color_constancy is not None:
        out["color_constancy"] = config.color_constancy
    if config.threads:
        out["threads"] = config.threads
    if config.trust is not None:
        out["trust"] = config.trust.model_dump()
    entry = {"name": row.model, "params": row.params}
    if row.members is not None:  # an ensemble: its members written out (one row)
        entry["members"] = [{"name": m.model, "label": m.label, "params": m.params,
                             "normalization": m.normalization} for m in row.members]
    out["models"] = [entry]
    return out


def _split(config, filenames, target, test_size, random_state, groups=None):
    from sklearn.model_selection import train_test_split

    if not test_size:
        return filenames, target, filenames[:0], target[:0], groups
    index = np.arange(len(target))
    try:
        X_train, X_test, y_train, y_test, i_train, _ = train_test_split(
            filenames, target, index, test_size=test_size, stratify=target,
            random_state=random_state)
    except ValueError as exc:
        raise ConfigError(config.source, [("test_size", (
            f"cannot split {len(target)} images with test size {test_size}: {exc}"))]) from None
    return X_train, y_train, X_test, y_test, None if groups is None else groups[i_train]


def _announcement(row, y_train, y_test, config, controlled):
    """'Training cnn on 81 images (acne 32, ...); 21 held out; 400x400 controlled inputs ...'"""
    labels, counts = np.unique(y_train, return_counts=True)
    per_class = ", ".join(f"{label} {n}" for label, n in zip(labels, counts, strict=True))
    held_out = f"{len(y_test)} held out for testing" if len(y_test) else "none held out"
    inputs = "controlled" if controlled else config.resize
    return (f"Training {row.label} on {len(y_train)} images ({per_class}); {held_out}; "
            f"{config.image_size}x{config.image_size} {inputs} inputs ...")


def fit_final(config, row=None, test_size=0.2, *, random_state=42, verbose=0, controlled=None):
    """Fit one config row's pipeline on a stratified training split of the config's images.

    Parameters
    ----------
    config : ExperimentConfig
        From :func:`load_config` or :func:`validate_config`.
    row : int, Row or None, default=None
        The row to train (an index into ``config.rows()``, or a row); None for a config of
        one row.
    test_size : float or int, default=0.2
        Held-out share of the images (scikit-learn rounds the test set up) or number of
        held-out images; 0 fits on all of them.
    random_state : int, default=42
        Seed of the split, and of the estimator unless the row's params set one.
    verbose : int, default=0
        The estimator's ``verbose`` during this fit (1: progress bar and epoch table); the
        returned model has the row's own ``verbose``. With ``verbose >= 1`` a line on stderr
        first says what is trained on what (images per class, held-out images, inputs).
    controlled : bool or None, default=None
        Train on controlled inputs (``CONTROLLED_INPUTS``: watermark band cut, common pixel
        scale, centre square), as the ``controlled`` protocol evaluates. None: when the
        config's ``cv.protocol`` is ``controlled`` or ``all`` (whose headline is the
        controlled column), so that the model you train is the one that protocol measured.

    Returns
    -------
    FinalFit

    Raises
    ------
    ConfigError
        If the config has several rows and ``row`` is None, or if the images cannot be split
        with ``test_size``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skin_estimators.experiments import fit_final, validate_config
    >>> root = tempfile.mkdtemp()
    >>> rng = np.random.RandomState(0)
    >>> for label in ("acne", "lichen"):
    ...     os.mkdir(os.path.join(root, label))
    ...     for i in range(5):
    ...         pixels = rng.randint(0, 256, (24, 32, 3), dtype=np.uint8)
    ...         Image.fromarray(pixels).save(os.path.join(root, label, f"{i}.png"))
    >>> config = validate_config({"data": {"path": root, "groups": None}, "image_size": 16,
    ...                           "models": [{"name": "cnn", "params": {"max_epochs": 1}}]})
    >>> final = fit_final(config, test_size=2)
    >>> len(final.y_train), len(final.y_test), final.model[-1].classes_.tolist()
    (8, 2, ['acne', 'lichen'])
    """
    import torch

    from ._rows import Row
    from ._trust_negatives import load_config_negatives

    row = row if isinstance(row, Row) else select_row(config, row)
    # With a trust: section the groups keep one atlas page out of its own calibration.
    bunch, _ = load_experiment_files(config, groups=config.trust is not None)
    filenames, target = np.asarray(bunch.filenames), np.asarray(bunch.target)
    groups = None if bunch.get("groups") is None else np.asarray(bunch["groups"])
    X_train, y_train, X_test, y_test, g_train = _split(config, filenames, target, test_size,
                                                       random_state, groups)

    if controlled is None:
        controlled = config.cv.protocol in ("controlled", "all")
    if verbose:
        print(_announcement(row, y_train, y_test, config, controlled), file=sys.stderr,
              flush=True)
    model = row.make_pipeline(random_state, config.device, controlled=controlled,
                              trust=config.trust)
    fit_params = {}
    if config.trust is not None and g_train is not None:
        fit_params[f"{model.steps[-1][0]}__groups"] = g_train
    negatives = load_config_negatives(config)
    if negatives is not None:  # photos of other conditions, as the wrapped estimator sees them
        fit_params[f"{model.steps[-1][0]}__X_other"] = model[:-1].fit(X_train).transform(
            negatives)
    est = model[-1]
    # A net's epoch log; a scikit-learn pipeline (the recommended model) has no epochs.
    logs_epochs = "verbose" in est.get_params(deep=False) and not hasattr(est, "steps")
    if logs_epochs:
        est.set_params(verbose=verbose)
    old_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        with noticing_interrupts() as interrupts:
            model.fit(X_train, y_train, **fit_params)
    finally:
        torch.set_num_threads(old_threads)
    if interrupts:  # skorch stopped early on Ctrl-C and returned: no model to save
        raise KeyboardInterrupt(f"interrupted while training {row.label}")
    if logs_epochs:
        est.set_params(verbose=row.params.get("verbose", 0))  # the progress bar was this run's

    training = {
        "data": "skin3" if config.data.fetch_skin3 else str(config.data_root()),
        "n_images": int(len(y_train)),
        "class_counts": {str(c): int(n) for c, n in
                         zip(*np.unique(y_train, return_counts=True), strict=True)},
        "data_sha256": data_hash(X_train, y_train),
        "test_size": test_size, "random_state": random_state,
    }
    if negatives is not None:  # (the out-of-scope score's negatives, never the classifier's)
        training["negatives"] = {"n_images": len(negatives),
                                 "data_sha256": data_hash(negatives, ["other"] * len(negatives))}
    return FinalFit(model=model, row=row, X_train=X_train, y_train=y_train, X_test=X_test,
                    y_test=y_test, training=training, config=config_as_run(config, row))
