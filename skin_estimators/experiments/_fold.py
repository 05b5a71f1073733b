"""The work of one fold: normalise, fit, predict, measure. Runs in the parent or on a worker.

It returns a :class:`FoldRecord` of plain JSON values (plus, for the last fold, the fitted
model), so that the parent can store it, resume from it and log it to MLflow without the
worker's help.
"""

import contextlib
import platform
import resource
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ._config import CONTROLLED, TrustConfig
from ._fold_trust import fold_trust
from ._record import FoldRecord
from ._rows import Row

__all__ = ["FoldTask", "library_versions", "noticing_interrupts", "run_fold"]


@dataclass
class FoldTask:
    """What one fit needs besides the images: which row, which split, where to run."""

    row: Row
    protocol: str
    seed: int
    fold: int
    n_folds: int
    train: np.ndarray
    test: np.ndarray
    labels: list
    device: str = "auto"
    threads: int | None = None
    keep_model: bool = False
    # The config's trust: section (the fold's estimator is wrapped in a TrustedClassifier),
    # and the groups of the training part for its inner calibration CV (None: ungrouped).
    trust: TrustConfig | None = None
    groups: np.ndarray | None = None

    @property
    def key(self):
        return (self.row.row_id, self.protocol, self.seed, self.fold)

    @property
    def max_epochs(self):
        """Epochs of the fold's fits: the TrustedClassifier fits once per inner fold, then
        on the whole training part."""
        return self.row.max_epochs * (1 + self.trust.cv if self.trust is not None else 1)

    @property
    def controlled(self):
        """Whether the fold sees controlled inputs (the ``controlled`` protocol)."""
        return self.protocol == CONTROLLED


def library_versions():
    """Versions of the libraries that decide the numbers."""
    from skin_estimators.utils._validation import loaded_versions, versions

    return {**versions(extra=("imbalanced-learn",)), **loaded_versions()}


def _peak_memory_mb(device):
    """GPU memory allocated at most (CUDA) or the process's peak resident set size (CPU)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return (rss / 2**20 if sys.platform == "darwin" else rss / 2**10), "peak_rss"


def _device_name(device):
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def fold_metrics(y_true, y_pred, labels):
    """The fold's macro metrics, geometric mean, per-class recall and specificity."""
    from imblearn.metrics import geometric_mean_score, sensitivity_specificity_support
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_score,
        recall_score,
    )

    with warnings.catch_warnings():
        # A class absent from a small test fold: its recall is reported as 0, not warned about.
        warnings.simplefilter("ignore")
        metrics = {
            "recall_macro": recall_score(y_true, y_pred, average="macro", zero_division=0),
            "precision_macro": precision_score(y_true, y_pred, average="macro", zero_division=0),
            "f1_macro": f1_score(y_true, y_pred, average="macro", zero_division=0),
            "accuracy": accuracy_score(y_true, y_pred),
            "geometric_mean": geometric_mean_score(y_true, y_pred),
        }
        sens, spec, _ = sensitivity_specificity_support(y_true, y_pred, labels=labels, average=None)
    metrics = {k: float(v) for k, v in metrics.items()}
    per_class = {
        "recall": {c: float(v) for c, v in zip(labels, sens, strict=True)},
        "specificity": {c: float(v) for c, v in zip(labels, spec, strict=True)},
    }
    cm = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return metrics, per_class, cm


def _fold_device(device):
    """The device of this fit: on a Dask worker with several GPUs, the worker's own GPU."""
    from ._dask import worker_gpu

    gpu = worker_gpu()
    if gpu is not None and str(device) in ("auto", "cuda"):
        return gpu
    return device


def _estimator_device(est):
    """The estimator's device (``device`` of a skorch net, of a pipeline's step, else CPU)."""
    device = getattr(est, "device", None)
    if device is None and hasattr(est, "steps"):
        device = next((d for _, step in est.steps
                       if (d := getattr(step, "device", None)) is not None), None)
    if device in (None, "auto"):
        return "cpu"
    return device


def _training_fields(est):
    """The training record of a skorch net; None (no loss curve: []) for any other estimator."""
    history = getattr(est, "history_", None)
    module = getattr(est, "module_", None)
    if history is None or module is None:
        return dict(train_loss=[], epochs=None, batch_size=None, lr=None,
                    trainable_parameters=None, epoch_time_s=[])
    return dict(
        train_loss=[float(v) for v in history[:, "train_loss"]], epochs=len(history),
        batch_size=int(est.batch_size), lr=float(est.lr),
        trainable_parameters=int(sum(p.numel() for p in module.parameters() if p.requires_grad)),
        epoch_time_s=[float(v) for v in history[:, "dur"]],
    )


@contextlib.contextmanager
def noticing_interrupts():
    """Yield a list that gets an entry when Ctrl-C (SIGINT) arrives inside the block.

    skorch ends a fit quietly on KeyboardInterrupt (it is also how its EarlyStopping stops)
    and returns a model trained for fewer epochs; a fold fitted so must be neither stored
    nor reported, and the run must stop. The usual handler still runs (it raises
    KeyboardInterrupt where the signal lands). Only the main thread can set a handler: on a
    Dask worker the list stays empty.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield []  # not the main thread, or SIGINT ignored / left to the system
        return
    noticed = []

    def handler(signum, frame):
        noticed.append(signum)
        previous(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield noticed
    finally:
        signal.signal(signal.SIGINT, previous)


def run_fold(task, images, target, ticker=None, negatives=None):
    """Fit and evaluate one fold; return ``(FoldRecord, model or None)``.

    ``images`` are the uint8 images of the whole data set as this fold's protocol sees them
    (the controlled inputs for ``controlled``) and ``target`` its labels; the normaliser is
    fitted on the training fold only. With ``task.trust`` the estimator is a
    TrustedClassifier fitted on the training fold (with ``task.groups``), and the record
    holds its answers on the test fold. ``negatives``: the out-of-scope score's negatives,
    decoded as ``images`` (normalised as the training fold).
    """
    import torch

    old_threads = torch.get_num_threads()
    if task.threads:
        torch.set_num_threads(task.threads)
    try:
        row = task.row
        # The images come decoded: the pipeline's ImageLoader only serves the saved model.
        pipeline = row.make_pipeline(task.seed, _fold_device(task.device),
                                     controlled=task.controlled, trust=task.trust)
        norm, est = pipeline[1], pipeline[-1]
        trusted = task.trust is not None
        inner = est.estimator if trusted else est
        # A skorch estimator reports its epochs to the progress bar; a plain scikit-learn
        # one (the recommended features + linear pipeline) has no callbacks and no epochs.
        # Nor does one inside a TrustedClassifier: its clones drop the bar (the fold then
        # advances the bar when it ends).
        skorch_like = hasattr(est, "initialize_callbacks")
        user_callbacks = est.get_params()["callbacks"] if skorch_like else None
        if ticker is not None and skorch_like:
            est.set_params(callbacks=[*(user_callbacks or []), ("experiment_progress", ticker)])
        target = np.asarray(target)
        device = torch.device(_estimator_device(inner))
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        start = time.perf_counter()
        with noticing_interrupts() as interrupts:
            X_train = norm.fit_transform(images[task.train])
            fit_params = {"groups": task.groups} if trusted else {}
            if trusted and negatives is not None:
                fit_params["X_other"] = norm.transform(negatives)
            est.fit(X_train, target[task.train], **fit_params)
        if interrupts:  # skorch stopped the fit early and returned: this fold is not done
            raise KeyboardInterrupt(f"interrupted while fitting {row.label} {task.protocol} "
                                    f"fold {task.fold + 1}/{task.n_folds}")
        fit_time = time.perf_counter() - start
        del X_train
        start = time.perf_counter()
        X_test = norm.transform(images[task.test])
        answers = est.predict_all(X_test) if trusted else None  # one pass for everything
        y_pred = answers["pred"] if trusted else est.predict(X_test)
        predict_time = time.perf_counter() - start
        del X_test

        y_true = target[task.test]
        metrics, per_class, cm = fold_metrics(y_true, y_pred, task.labels)
        peak, peak_kind = _peak_memory_mb(device)
        # (with trust: the estimator refitted on the whole training fold)
        training = _training_fields(est.estimator_ if trusted else est)
        record = FoldRecord(
            row_id=row.row_id, model=row.model, label=row.label, params=row.params,
            cv=task.protocol, seed=task.seed, fold=task.fold, n_folds=task.n_folds,
            n_train=int(len(task.train)), n_test=int(len(task.test)),
            metrics=metrics, per_class=per_class, labels=list(task.labels),
            confusion_matrix=cm, test_index=[int(i) for i in task.test],
            y_pred=[str(p) for p in y_pred],
            **training,
            fit_time_s=fit_time, predict_time_s=predict_time, peak_memory_mb=float(peak),
            peak_memory_kind=peak_kind, device=_device_name(device),
            threads=torch.get_num_threads(), host=platform.node(), versions=library_versions(),
            trust=fold_trust(est, answers, y_true, task.labels, task.trust) if trusted else None,
        )
        model = None
        if task.keep_model:
            if ticker is not None and skorch_like:  # the saved model carries no progress bar callback
                est.set_params(callbacks=user_callbacks)
                est.initialize_callbacks()
            model = pipeline  # predicts from file paths, as the user will use it
        return record, model
    finally:
        torch.set_num_threads(old_threads)
