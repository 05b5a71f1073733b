"""Predicting from image files one batch at a time, keeping going past unreadable files.

Shared by the ``predict`` and ``explain`` commands and by :mod:`skin_estimators.explain`:
every input keeps its row, a file that cannot be decoded gets its reason instead of a
prediction, and the rest of its batch is still predicted.
"""

import numpy as np

__all__ = ["predict_files", "split_pipeline", "transform_files"]


def split_pipeline(model):
    """``(preprocessing, classifier)`` of a Pipeline that works from file paths."""
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

    Returns ``(X, ok, errors)``: the transformed images of the loadable files, their indices
    in ``paths``, and ``{index: reason}`` for the others. ``X`` is None when none loaded.
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
    """
    from tqdm.auto import tqdm

    preprocess, clf = split_pipeline(model)
    n = len(paths)
    proba = np.full((n, len(clf.classes_)), np.nan)
    errors = [None] * n
    with tqdm(total=n, unit="img", desc="predict", disable=not progress) as bar:
        for start in range(0, n, batch_size):
            chunk = paths[start:start + batch_size]
            X, ok, bad = transform_files(preprocess, chunk)
            for i, reason in bad.items():
                errors[start + i] = reason
            if ok:
                p = clf.predict_proba(X)
                # An estimator with tta="hflip" already averages over the mirror; doing it
                # again here would double the work for the same probabilities.
                if tta and getattr(clf, "tta", None) != "hflip":
                    # images are (n, C, H, W) here: the last axis is the width
                    p = (p + clf.predict_proba(np.ascontiguousarray(X[..., ::-1]))) / 2
                proba[[start + i for i in ok]] = p
            bar.update(len(chunk))
    return proba, errors
