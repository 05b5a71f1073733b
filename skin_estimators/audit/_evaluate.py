"""``evaluate_model``: score a trained model on labelled photos from another source."""

import os
import warnings

import numpy as np
from sklearn.utils import Bunch

__all__ = ["evaluate_model"]


def _model_classes(model):
    from ..inference import split_pipeline

    _, clf = split_pipeline(model)
    classes = getattr(clf, "classes_", None)
    if classes is None:
        raise ValueError(
            f"the model's last step ({type(clf).__name__}) has no classes_: fit it first."
        )
    return np.asarray(classes)


def evaluate_model(model, X, y, *, batch_size=16, tta=False, progress=False):
    """Score a fitted model on labelled image files, e.g. your clinic's photos.

    This is the check that cross-validation on one data set cannot make: photos from
    another source do not share its shortcuts (sizes, watermarks, cameras), so a model
    that learnt those scores low here. Files that cannot be read get an error instead of
    a prediction and are left out of the scores.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline that starts from file paths (``ImageLoader`` first), e.g. from
        :func:`~skin_estimators.load_model`.
    X : list of str or path-like
        Image files.
    y : array-like of shape (n_files,)
        Their true classes; each must be one of the model's classes.
    batch_size : int, default=16
        Images decoded and predicted at a time.
    tta : bool, default=False
        Average each image's probabilities with its mirror image's.
    progress : bool, default=False
        Show a progress bar.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``filenames``, ``y_true``, ``y_pred`` (``""`` where unreadable), ``proba``
        ``(n_files, n_classes)`` (NaN rows where unreadable), ``errors`` (a reason or
        None per file), ``classes`` (the model's), ``absent_classes`` (the model's classes
        with no readable photo here), ``n_errors``, ``macro_recall`` and ``accuracy`` (over
        the readable files; NaN if none), ``report`` (the text of
        :func:`~skin_estimators.metrics.clinical_report`, per class sensitivity and
        specificity) and ``confusion_matrix`` (rows: true, columns: predicted, in the
        order of ``classes``), ``trust`` (None for a model without trust parts) and
        ``predictions`` (per file, the record of everything predicted of it, as the
        command line writes it: ``predictions[i]["flag"]``).

        For a model with trust parts (a :class:`~skin_estimators.TrustedClassifier` as the
        model, or as the pipeline's last step) ``proba`` are the calibrated probabilities
        and ``trust`` holds ``sets``, ``flags``, ``score`` (out-of-scope), ``raw`` (the
        wrapped estimator's probabilities), ``coverage`` (overall), ``coverage_per_class``,
        ``size_per_class``, ``mean_set_size``, ``ece_before`` (classwise ECE of ``raw``),
        ``ece_after`` (of the calibrated ones), their per-class dicts, ``flag_shares`` and
        the model's ``confidence_level`` and ``mondrian``.

        Every macro average (``macro_recall`` and the report's) is over the classes the
        photos hold, not over ``absent_classes``: a class without photos has no recall. A
        photo predicted as an absent class is still an error of its own class.

    Raises
    ------
    ValueError
        If ``y`` names a class the model does not know (all such classes are named), or
        ``X`` and ``y`` differ in length.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier
    >>> from skin_estimators.audit import evaluate_model
    >>> root, files, y = Path(tempfile.mkdtemp()), [], []
    >>> for i, colour in enumerate([(200, 50, 50), (50, 50, 200)] * 4):
    ...     files.append(str(root / f"{i}.png"))
    ...     Image.new("RGB", (20, 20), colour).save(files[-1])
    ...     y.append("red" if colour[0] > 100 else "blue")
    >>> model = make_pipeline(ImageLoader(size=16), ChannelNormalizer(),
    ...                       VanillaCNNClassifier(max_epochs=1, batch_size=4, verbose=0))
    >>> model = model.fit(files, y)
    >>> result = evaluate_model(model, files + ["missing.png"], y + ["red"])
    >>> result.n_errors, result.errors[-1]
    (1, 'file not found')
    >>> sorted(result.classes.tolist())
    ['blue', 'red']
    """
    from .._predictions import stack_predictions
    from ..inference import iter_predictions
    from ..metrics import clinical_report
    from ..uncertainty._evaluation import trust_summary, trusted_file_pipeline

    filenames = [str(os.fsdecode(f)) for f in X]  # plain str, also for NumPy strings
    y_true = np.asarray(y).astype(str)
    if y_true.shape != (len(filenames),):
        raise ValueError(
            f"evaluate_model: y must hold one class per file ({len(filenames)}), got shape "
            f"{y_true.shape}."
        )
    trusted = trusted_file_pipeline(model)
    model = model if trusted is None else trusted
    classes = _model_classes(model)
    unknown = sorted(set(y_true.tolist()) - set(classes.astype(str).tolist()))
    if unknown:
        raise ValueError(
            f"the labelled photos include class(es) the model does not know: "
            f"{', '.join(map(repr, unknown))}; the model knows "
            f"{', '.join(map(repr, classes.tolist()))}. Rename the class folders to the "
            "model's class names, or leave out the photos of the other classes."
        )
    predictions = list(iter_predictions(model, filenames, batch_size, tta, progress,
                                        desc="evaluate"))
    columns = stack_predictions(predictions, classes)
    ok, y_pred, proba, errors = columns.ok, columns.pred, columns.proba, columns.errors
    labels = classes.astype(str).tolist()
    result = Bunch(
        filenames=filenames, y_true=y_true, y_pred=y_pred, proba=proba, errors=errors,
        classes=classes, n_errors=int((~ok).sum()), predictions=predictions,
        macro_recall=float("nan"), accuracy=float("nan"), report="no readable file",
        confusion_matrix=np.zeros((len(labels), len(labels)), dtype=int),
        absent_classes=[c for c in labels if c not in set(y_true[ok].tolist())], trust=None,
    )
    if ok.any():
        from sklearn.exceptions import UndefinedMetricWarning
        from sklearn.metrics import accuracy_score, confusion_matrix, recall_score

        truth, pred = y_true[ok], y_pred[ok].astype(str)
        present = [c for c in labels if c in set(truth.tolist())]
        result.absent_classes = [c for c in labels if c not in present]
        # Every macro figure is over the classes the photos hold: a class with no photo has
        # no recall to average. A prediction of an absent class is still an error (a missed
        # photo of its true class), and it stays in the confusion matrix.
        result.macro_recall = float(recall_score(truth, pred, labels=present, average="macro",
                                                 zero_division=0))
        result.accuracy = float(accuracy_score(truth, pred))
        with warnings.catch_warnings():
            # A class nobody predicted has no precision: reported as 0, by design.
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            result.report = clinical_report(truth, pred, labels=present)
        result.confusion_matrix = confusion_matrix(truth, pred, labels=labels)
    if trusted is not None:
        present = [c for c in labels if c in set(y_true[ok].tolist())]
        result.trust = trust_summary(model[-1], y_true, columns, present)
    return result
