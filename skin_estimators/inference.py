"""Batch prediction from image files, keeping going past unreadable files.

What the ``predict``, ``evaluate``, ``describe`` and ``explain`` commands and
:mod:`skin_estimators.explain` share: every input keeps its row, a file that cannot be decoded
gets its reason instead of a prediction, and the rest of its batch is still predicted.
"""

import numpy as np

__all__ = ["averages_mirror", "iter_file_batches", "predict_files", "set_feature_backend",
           "split_pipeline", "transform_files"]


def split_pipeline(model):
    """Split a fitted pipeline that works from file paths into its preprocessing and its model.

    Parameters
    ----------
    model : Pipeline
        At least two steps, the first of which takes file paths (an ImageLoader).

    Returns
    -------
    preprocessing : Pipeline
        Every step but the last.
    classifier : estimator
        The last step.

    Raises
    ------
    ValueError
        If ``model`` is not a Pipeline of at least two steps (a bare classifier takes arrays).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier
    >>> from skin_estimators.inference import split_pipeline
    >>> model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(), VanillaCNNClassifier())
    >>> preprocess, clf = split_pipeline(model)
    >>> len(preprocess), type(clf).__name__
    (2, 'VanillaCNNClassifier')
    """
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) >= 2:
        return model[:-1], model[-1]
    raise ValueError(
        f"this model is a bare {type(model).__name__}, which takes arrays, not image files. "
        "Save the whole pipeline instead, e.g. make_pipeline(ImageLoader(size=400), "
        "ChannelNormalizer(), VanillaCNNClassifier()) after fitting it on file paths."
    )


def image_loader(model):
    """The ImageLoader step of a pipeline (its size and resize mode), or None."""
    from sklearn.pipeline import Pipeline

    from .preprocessing import ImageLoader

    steps = model.steps if isinstance(model, Pipeline) else []
    for _, step in steps:
        if isinstance(step, ImageLoader):
            return step
    return None


def transform_files(preprocess, paths):
    """Run ``preprocess`` on ``paths``, setting aside the files that cannot be loaded.

    Parameters
    ----------
    preprocess : transformer
        A fitted transformer that takes file paths (an ImageLoader or a pipeline starting
        with one).
    paths : list of str or path-like

    Returns
    -------
    X : ndarray or None
        The transformed images of the loadable files; None when none loaded.
    ok : list of int
        Their indices in ``paths``.
    errors : dict
        ``{index: reason}`` for the files that could not be loaded.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skin_estimators import ImageLoader
    >>> from skin_estimators.inference import transform_files
    >>> tmp = tempfile.TemporaryDirectory()
    >>> good = os.path.join(tmp.name, "photo.png")
    >>> Image.fromarray(np.zeros((24, 32, 3), dtype=np.uint8)).save(good)
    >>> bad = os.path.join(tmp.name, "notes.png")
    >>> with open(bad, "w") as f:
    ...     _ = f.write("not an image")
    >>> X, ok, errors = transform_files(ImageLoader(size=16).fit([good]), [good, bad])
    >>> X.shape, ok, sorted(errors)
    ((1, 16, 16, 3), [0], [1])
    >>> tmp.cleanup()
    """
    from .preprocessing import ImageLoadError

    paths = [str(p) for p in paths]
    errors = {}
    ok = list(range(len(paths)))
    # Two tries: the loader reports every bad file at once, so the second call (on the good
    # ones) only fails if a file changed in between - then the error propagates.
    for attempt in range(2):
        try:
            X = preprocess.transform([paths[i] for i in ok])
            return X, ok, errors
        except ImageLoadError as exc:
            if attempt:
                raise
            reasons = {}
            for name, reason in exc.errors:
                reasons.setdefault(name, reason)
            failed = {i: reasons[paths[i]] for i in ok if paths[i] in reasons}
            if not failed:
                raise
            errors.update(failed)
            ok = [i for i in ok if i not in failed]
            if not ok:
                return None, ok, errors
    raise AssertionError("unreachable")


def _estimators_in(obj, seen):
    """Every estimator reachable from ``obj``: pipeline steps, parameters and fitted parts."""
    from sklearn.base import BaseEstimator

    if id(obj) in seen:
        return
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _estimators_in(item, seen)
        return
    if not isinstance(obj, BaseEstimator):
        return
    seen.add(id(obj))
    yield obj
    for value in vars(obj).values():
        yield from _estimators_in(value, seen)


def set_feature_backend(model, backend):
    """Set the network backend of every frozen-feature step inside ``model``; their count.

    The steps are the :class:`~skin_estimators.PretrainedFeatures` of ``model``: itself, its
    pipeline steps, and those nested in its parameters or fitted parts (the estimator a
    :class:`~skin_estimators.TrustedClassifier` refitted). The backend decides how their
    network runs, not what it computes: the outputs agree within float32 tolerance.

    Parameters
    ----------
    model : estimator
    backend : {"auto", "torch", "onnxruntime"}

    Returns
    -------
    int
        How many steps were set (0 when ``model`` has no frozen pretrained features).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators import PretrainedFeatures
    >>> from skin_estimators.inference import set_feature_backend
    >>> model = make_pipeline(PretrainedFeatures(), LogisticRegression())
    >>> set_feature_backend(model, "torch"), model[0].backend
    (1, 'torch')
    """
    from .preprocessing import PretrainedFeatures

    steps = [e for e in _estimators_in(model, set()) if isinstance(e, PretrainedFeatures)]
    for step in steps:
        step.set_params(backend=backend)
    return len(steps)


def averages_mirror(model):
    """Whether ``model`` already averages each image with its left-right mirror image.

    True when one of its parts does it: a network classifier with ``tta="hflip"``, or frozen
    :class:`~skin_estimators.PretrainedFeatures` with ``mirror=True`` (the recommended
    model), whose features of an image and of its mirror image are the same. Test-time
    augmentation by mirroring (``--tta``) then gives the same probabilities; it is skipped.

    Examples
    --------
    >>> from skin_estimators import make_recommended_classifier
    >>> from skin_estimators.inference import averages_mirror
    >>> averages_mirror(make_recommended_classifier()), averages_mirror(object())
    (True, False)
    """
    from .preprocessing import PretrainedFeatures

    return any(getattr(e, "tta", None) == "hflip"
               or (isinstance(e, PretrainedFeatures) and bool(e.mirror))
               for e in _estimators_in(model, set()))


def _split_after_loader(preprocess):
    """``(loading, rest)``: the ImageLoader step and the steps after it (None if none)."""
    from sklearn.pipeline import Pipeline

    from .preprocessing import ImageLoader

    if (isinstance(preprocess, Pipeline) and len(preprocess.steps) > 1
            and isinstance(preprocess.steps[0][1], ImageLoader)):
        return preprocess[:1], preprocess[1:]
    return preprocess, None


def iter_file_batches(preprocess, paths, batch_size=16):
    """Transform ``paths`` batch by batch, the next batch's files decoded in the background.

    While the caller works on one batch (the network's forward pass, usually), a background
    thread decodes and resizes the files of the next one, so that the cores the network
    leaves idle between its calls are used. The results are those of
    :func:`transform_files` on each batch in turn, whatever the timing; an error that
    :func:`transform_files` would raise is raised here, at its batch.

    Parameters
    ----------
    preprocess : transformer
        A fitted transformer that takes file paths (an ImageLoader or a pipeline starting
        with one): the ImageLoader runs in the background thread, the steps after it in the
        caller's.
    paths : list of str or path-like
    batch_size : int, default=16

    Yields
    ------
    start : int
        The index in ``paths`` of the batch's first file.
    X, ok, errors
        As :func:`transform_files` gives them for ``paths[start:start + batch_size]``
        (``ok`` and the keys of ``errors`` index into the batch).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skin_estimators import ImageLoader
    >>> from skin_estimators.inference import iter_file_batches
    >>> tmp = tempfile.TemporaryDirectory()
    >>> paths = [os.path.join(tmp.name, f"photo{i}.png") for i in range(5)]
    >>> for path in paths:
    ...     Image.fromarray(np.zeros((24, 32, 3), dtype=np.uint8)).save(path)
    >>> loader = ImageLoader(size=16).fit(paths)
    >>> [(start, X.shape[0]) for start, X, ok, errors in iter_file_batches(loader, paths, 2)]
    [(0, 2), (2, 2), (4, 1)]
    >>> tmp.cleanup()
    """
    from concurrent.futures import ThreadPoolExecutor

    loading, rest = _split_after_loader(preprocess)
    paths = list(paths)
    starts = list(range(0, len(paths), batch_size))
    with ThreadPoolExecutor(1, thread_name_prefix="skin-estimators-decode") as pool:
        def submit(k):
            return pool.submit(transform_files, loading,
                               paths[starts[k]:starts[k] + batch_size])

        pending = submit(0) if starts else None
        for k, start in enumerate(starts):
            X, ok, errors = pending.result()
            pending = submit(k + 1) if k + 1 < len(starts) else None
            if ok and rest is not None:
                X = rest.transform(X)
            yield start, X, ok, errors


def small_blas():
    """A context in which numpy's and scipy's BLAS run on one thread.

    Prediction runs a network (its own thread pool) between small matrix products (a
    scaler, a linear head, a distance to class means) of a few rows. Split over threads
    such products gain nothing, and their threads wait for cores the network's pool holds:
    on two cores one such product took a hundred times longer than on one thread.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def prediction_pipeline(model):
    """The pipeline :func:`iter_predictions` runs ``model`` as: one ending in its
    TrustedClassifier where it has one (``trusted_file_pipeline``), else ``model``.

    Raises
    ------
    ValueError
        If ``model`` does not start from file paths (see :func:`split_pipeline`), or is a
        TrustedClassifier whose fold models take the files themselves.
    """
    from .uncertainty._evaluation import trusted_file_pipeline

    trusted = trusted_file_pipeline(model)
    if trusted is not None:
        return trusted
    split_pipeline(model)
    return model


def iter_predictions(model, paths, batch_size=16, tta=False, progress=False, desc="predict",
                     trust=True):
    """Everything the library predicts of each image file: one record per file, in order.

    The one loop that predicts image files (:func:`predict_files`,
    :func:`~skin_estimators.audit.evaluate_model`, the ``predict`` and ``evaluate``
    commands): every column of the table ``skin_estimators._predictions.COLUMNS`` (the
    predicted class, the probabilities and, for a model with trust parts, the raw
    probabilities, the prediction set, the out-of-scope score and the flag) per file, or
    the reason it could not be read. Each image goes through the network once.

    Parameters
    ----------
    model : Pipeline or TrustedClassifier
        Fitted, from file paths (see :func:`prediction_pipeline`).
    paths : list of str
    batch_size : int, default=16
        Images decoded and predicted at a time.
    tta : bool, default=False
        Average the probabilities of each image and its mirror image (left-right flip).
    progress : bool, default=False
        Show a tqdm progress bar (on stderr), named ``desc``.
    desc : str, default="predict"
    trust : bool, default=True
        Compute the trust parts of a model that has them (False: its probabilities only,
        as for any classifier).

    Yields
    ------
    record : skin_estimators._predictions.Prediction
        ``record[column]`` (None where the file could not be read or the model has no such
        part); ``record.path`` and ``record.error`` (the reason, or None).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skin_estimators import ImageLoader
    >>> from skin_estimators.inference import iter_predictions
    >>> tmp = tempfile.TemporaryDirectory()
    >>> paths = [os.path.join(tmp.name, f"photo{i}.png") for i in range(4)]
    >>> for i, path in enumerate(paths):
    ...     Image.new("RGB", (8, 8), (200 * (i % 2), 50, 50)).save(path)
    >>> flat = FunctionTransformer(lambda X: X.reshape(len(X), -1) / 255.0)
    >>> model = make_pipeline(ImageLoader(size=8), flat, LogisticRegression())
    >>> model = model.fit(paths, ["red", "blue"] * 2)
    >>> records = list(iter_predictions(model, paths[:2] + ["gone.png"]))
    >>> [r["pred_class"] for r in records], records[2].error
    (['red', 'blue', None], 'file not found')
    >>> tmp.cleanup()
    """
    from tqdm.auto import tqdm

    from ._predictions import Batch, batch_records

    model = prediction_pipeline(model) if trust else model
    preprocess, _ = split_pipeline(model)
    mirror = tta and not averages_mirror(model)
    paths = list(paths)
    with tqdm(total=len(paths), unit="img", desc=desc, disable=not progress) as bar, \
            small_blas():
        for start, X, ok, bad in iter_file_batches(preprocess, paths, batch_size):
            chunk = paths[start:start + batch_size]
            # A model that already averages over the mirror (averages_mirror) gives the
            # same probabilities for both; doing it again would only double the work.
            batch = Batch(model, X, [chunk[i] for i in ok], mirror, trust) if ok else None
            yield from batch_records(chunk, ok, bad, batch)
            bar.update(len(chunk))


def predict_files(model, paths, batch_size=16, tta=False, progress=False):
    """Class probabilities for image files; unreadable files get a reason instead.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline that starts from file paths (ImageLoader first).
    paths : list of str
    batch_size : int, default=16
        Images decoded and predicted at a time (memory grows with it).
    tta : bool, default=False
        Test-time augmentation: average the probabilities of each image and its mirror
        image (left-right flip).
    progress : bool, default=False
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    proba : ndarray of shape (n_files, n_classes)
        NaN rows for the files that could not be loaded.
    errors : list of (str or None)
        The reason per file, None where it was predicted.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier
    >>> from skin_estimators.inference import predict_files
    >>> tmp = tempfile.TemporaryDirectory()
    >>> rng = np.random.RandomState(0)
    >>> paths = []
    >>> for i in range(8):
    ...     paths.append(os.path.join(tmp.name, f"photo{i}.png"))
    ...     Image.fromarray(rng.randint(0, 256, (24, 32, 3), dtype=np.uint8)).save(paths[-1])
    >>> model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
    ...                       VanillaCNNClassifier(max_epochs=1, random_state=0))
    >>> model = model.fit(paths, ["acne", "lichen"] * 4)
    >>> proba, errors = predict_files(model, paths[:2] + [os.path.join(tmp.name, "gone.png")])
    >>> proba.shape, bool(np.isnan(proba[2]).all()), errors[:2], errors[2] is not None
    ((3, 2), True, [None, None], True)
    >>> tmp.cleanup()
    """
    _, clf = split_pipeline(model)
    proba = np.full((len(paths), len(clf.classes_)), np.nan)
    errors = []
    for i, record in enumerate(iter_predictions(model, paths, batch_size, tta, progress,
                                                trust=False)):
        errors.append(record.error)
        if record.error is None:
            proba[i] = record["proba"]
    return proba, errors
