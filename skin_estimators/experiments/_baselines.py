"""The shortcut baselines: rows of every results table that score what a model could learn
instead of the disease, under the same splits as the models.

* *geometry*: the audit's shortcut forest on the image files' width, height and aspect
  (read from the headers): what the file alone tells, under each protocol's splits.
* *corners*: the audit's corner probe on the inputs the models of the protocol see (the
  controlled inputs for ``controlled``): a watermark or frame the model could read.

Both reuse :mod:`skin_estimators.audit` (its features and its forests); a model that does not
beat them by a clear margin has not been shown to look at the skin.
"""

import platform
import time

import numpy as np

from ..audit._cv import shortcut_forest
from ..audit._probes import corner_features
from ..audit._properties import geometry_features
from ._config import CONTROLLED
from ._fold import fold_metrics, library_versions
from ._record import FoldRecord
from ._results import summarize
from ._rows import Row

__all__ = ["BASELINES", "baseline_table"]

#: ``name: (label, n_estimators)``; the forests are the audit's (300 trees for the file
#: properties, 100 for the corner probe).
BASELINES = {
    "geometry": ("shortcut baseline: image geometry (width, height, aspect of the file)", 300),
    "corners": ("shortcut baseline: corner probe (the four 15 % corners of the inputs)", 100),
}


def _row(name):
    label, trees = BASELINES[name]
    return Row(model=f"baseline:{name}", label=label, params={"n_estimators": trees},
               normalization="none", row_id=f"baseline-{name}")


def _records(row, X, target, folds, protocol, seed, labels, versions):
    records = []
    for k, (train, test) in enumerate(folds):
        start = time.perf_counter()
        forest = shortcut_forest(row.params["n_estimators"]).fit(X[train], target[train])
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        y_pred = forest.predict(X[test])
        predict_time = time.perf_counter() - start
        metrics, per_class, cm = fold_metrics(target[test], y_pred, labels)
        records.append(FoldRecord(
            row_id=row.row_id, model=row.model, label=row.label, params=row.params,
            cv=protocol, seed=seed, fold=k, n_folds=len(folds), n_train=len(train),
            n_test=len(test), metrics=metrics, per_class=per_class, labels=list(labels),
            confusion_matrix=cm, test_index=[int(i) for i in test],
            y_pred=[str(p) for p in y_pred], train_loss=[], epochs=0, batch_size=0, lr=0.0,
            trainable_parameters=0, fit_time_s=fit_time, predict_time_s=predict_time,
            peak_memory_mb=0.0, peak_memory_kind="none", device="cpu", threads=1,
            host=platform.node(), versions=versions))
    return records


def baseline_table(data, splits, labels):
    """The baselines' table rows (as ``summarize``'s, with ``baseline: True``).

    Parameters
    ----------
    data : ExperimentData
        The run's data (file names, labels, decoded inputs).
    splits : dict of (protocol, seed) to list of (train, test)
        The models' splits.
    labels : list of str
    """
    target = np.asarray(data.target).astype(str)
    versions = library_versions()
    geometry = geometry_features(data.filenames)
    corners = {controlled: corner_features(images)["all corners"]
               for controlled, images in data.inputs().items() if images is not None}
    protocols = list(dict.fromkeys(p for p, _ in splits))
    table = []
    for name in BASELINES:
        row = _row(name)
        for protocol in protocols:
            X = geometry if name == "geometry" else corners[protocol == CONTROLLED]
            records = []
            for (p, seed), folds in splits.items():
                if p == protocol:
                    records += _records(row, X, target, folds, protocol, seed, labels, versions)
            table.append({**summarize(row, protocol, records), "baseline": True})
    return table
