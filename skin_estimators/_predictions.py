"""One record per photo of a prediction from image files, and the CSV cells of its columns.

Every prediction from image files goes through
:func:`~skin_estimators.inference.iter_predictions` (``predict_files``,
:func:`~skin_estimators.audit.evaluate_model`, the ``predict`` and ``evaluate`` commands, their
HTML reports), which yields one :class:`Prediction` per photo holding every column of
:data:`COLUMNS`. A column is one entry of that table: how to compute it from a :class:`Batch`
of readable photos, and how to write it as CSV cells. An entry added to the table is in every
record, in ``predict``'s CSV and in ``evaluate``'s predictions.csv; nothing else changes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from .uncertainty._evaluation import trusted_batch
from .uncertainty._trusted import TrustedClassifier
from .utils._validation import mirror_images

__all__ = ["COLUMNS", "Batch", "Column", "Prediction", "batch_records", "csv_columns",
           "csv_header", "csv_row", "stack_predictions"]


class Batch:
    """The readable photos of one batch and what the model makes of them, in one pass.

    The columns compute from its attributes, one row per photo: ``X`` (the images after the
    preprocessing), ``paths``, ``proba`` (calibrated with trust parts) and, for a model with
    trust parts (``trusted``), ``raw`` (the wrapped estimator's probabilities), ``sets``
    (boolean ``(n, n_classes)``), ``score`` (out-of-scope; NaN without a score, ``inf`` for a
    blank image) and ``flag`` (:meth:`~skin_estimators.TrustedClassifier.flags_from`); and
    ``model`` (the pipeline) and ``classes``.

    Parameters
    ----------
    model : Pipeline
        Fitted, from file paths; its last step predicts ``X``.
    X : array-like
        The output of every step but the last on the batch's readable files.
    paths : list of str
        Those files.
    mirror : bool, default=False
        Average each image's probabilities with its left-right mirror image's.
    trust : bool, default=True
        Compute the trust parts when the last step is a TrustedClassifier (False: only its
        probabilities, as for any classifier).
    """

    def __init__(self, model, X, paths, mirror=False, trust=True):
        clf = model[-1]
        self.model, self.X, self.paths, self.classes = model, X, paths, clf.classes_
        self.trusted = bool(trust) and isinstance(clf, TrustedClassifier)
        self.raw = self.sets = self.score = self.flag = None
        if self.trusted:
            parts = trusted_batch(clf, X, mirror)
            self.proba, self.raw, self.sets = parts["proba"], parts["raw"], parts["sets"]
            self.score, self.flag = parts["score"], parts["flag"]
            return
        self.proba = clf.predict_proba(X)
        if mirror:
            self.proba = (self.proba + clf.predict_proba(mirror_images(X))) / 2


def _text(value):
    return [str(value)]


def _score_cells(value):
    return ["" if value != value else f"{value:.6g}"]


@dataclass(frozen=True)
class Column:
    """One column of the records: how to compute it and how to write it.

    Attributes
    ----------
    name : str
        The record's key (and the CSV header, unless ``headers`` says otherwise).
    compute : callable or None
        ``compute(batch)``: one value per readable photo of a :class:`Batch`. None for the
        values every photo has, readable or not (its path, its error).
    cells : callable
        ``cells(value)``: the value as a list of CSV cells (default: ``[str(value)]``). A
        value of None (an unreadable photo, a model without the part) is empty cells.
    headers : callable or None
        ``headers(classes)``: the CSV header cells (default: ``[name]``).
    csv : bool
        Written to the CSV files (False: a value of the records only).
    trust : bool
        A part of a model with trust parts (None for other models; ``evaluate`` writes it
        only for such a model, ``predict`` always).
    """

    name: str
    compute: Callable[[Batch], Any] | None
    cells: Callable[[Any], list] = _text
    headers: Callable[[Any], list] | None = None
    csv: bool = True
    trust: bool = False

    def header_cells(self, classes):
        return [self.name] if self.headers is None else list(self.headers(classes))


#: Every column the library computes per photo, in the order of the CSV files.
COLUMNS = (
    Column("image_path", None),
    Column("pred_class", lambda b: b.classes[np.argmax(b.proba, axis=1)].tolist()),
    Column("proba", lambda b: b.proba, cells=lambda v: [f"{x:.6f}" for x in v],
           headers=lambda classes: [f"proba_{c}" for c in classes]),
    Column("raw_proba", lambda b: b.raw, csv=False, trust=True),
    Column("prediction_set", lambda b: [tuple(b.classes[m].tolist()) for m in b.sets],
           cells=lambda v: ["|".join(str(c) for c in v)], trust=True),
    Column("out_of_scope_score", lambda b: b.score, cells=_score_cells, trust=True),
    Column("flag", lambda b: b.flag, trust=True),
    Column("error", None),
)


def _column(name):
    for column in COLUMNS:
        if column.name == name:
            return column
    raise KeyError(f"no column {name!r} in COLUMNS")


@dataclass(frozen=True)
class Prediction:
    """Everything predicted of one photo: ``record[name]`` for every column of
    :data:`COLUMNS` (None where the photo could not be read or the model lacks the part).

    ``path`` and ``error`` (why the file could not be read, or None) are attributes too.
    """

    values: dict

    def __getitem__(self, name):
        return self.values[name]

    @property
    def path(self):
        return self.values["image_path"]

    @property
    def error(self):
        return self.values["error"]


def batch_records(paths, ok, errors, batch):
    """The records of one batch's ``paths``: the columns of ``batch`` (a :class:`Batch` of
    the files ``ok`` indexes, or None when none is readable) for those, and for the others
    the reason of ``errors`` (``{index: reason}``)."""
    computed = {}
    if batch is not None:
        computed = {c.name: c.compute(batch) for c in COLUMNS
                    if c.compute is not None and (batch.trusted or not c.trust)}
    row = {i: j for j, i in enumerate(ok)}
    for i, path in enumerate(paths):
        values = dict.fromkeys(c.name for c in COLUMNS)
        values.update(image_path=path, error=errors.get(i))
        if i in row:
            values.update((name, column[row[i]]) for name, column in computed.items())
        yield Prediction(values)


def csv_columns(trusted=True, own=()):
    """The columns of a predictions CSV: ``image_path``, the caller's own (``own``, e.g.
    ``true_class``), then every column of :data:`COLUMNS` written to CSV files, those of the
    trust parts only when ``trusted``, ``error`` last."""
    names = [c.name for c in COLUMNS if c.csv and (trusted or not c.trust)]
    return names[:1] + list(own) + names[1:]


def csv_header(names, classes):
    """The header cells of the columns ``names`` (a caller's own column: its name)."""
    known = {c.name for c in COLUMNS}
    return [cell for name in names
            for cell in (_column(name).header_cells(classes) if name in known else [name])]


def csv_row(record, names, classes, own=None):
    """The CSV cells of ``record`` under ``names``: the one formatter of the CSV files.

    ``own``: ``{name: value}`` of the caller's own columns (written as ``str(value)``).
    """
    own = own or {}
    cells = []
    for name in names:
        if name in own:
            cells.append(str(own[name]))
            continue
        column, value = _column(name), record[name]
        cells += ([""] * len(column.header_cells(classes)) if value is None
                  else column.cells(value))
    return cells


def stack_predictions(records, classes):
    """The records' columns as arrays over the files, for figures across photos.

    A Bunch of ``ok`` (readable), ``errors``, ``pred`` (``""`` where unreadable), ``proba``
    and ``raw`` (NaN rows where unreadable or, for ``raw``, without trust parts), ``score``
    (NaN likewise), ``sets`` (boolean, all False likewise) and ``flags`` (``""`` likewise).
    """
    n, k = len(records), len(classes)
    out = Bunch(ok=np.zeros(n, dtype=bool), errors=[r.error for r in records],
                pred=np.full(n, "", dtype=object), proba=np.full((n, k), np.nan),
                raw=np.full((n, k), np.nan), score=np.full(n, np.nan),
                sets=np.zeros((n, k), dtype=bool), flags=np.full(n, "", dtype="<U12"))
    for i, r in enumerate(records):
        if r.error is not None:
            continue
        out.ok[i] = True
        out.pred[i], out.proba[i] = str(r["pred_class"]), r["proba"]
        if r["raw_proba"] is not None:
            out.raw[i] = r["raw_proba"]
        if r["out_of_scope_score"] is not None:
            out.score[i] = r["out_of_scope_score"]
        if r["prediction_set"] is not None:
            out.sets[i] = np.isin(classes, list(r["prediction_set"]))
        out.flags[i] = r["flag"] or ""
    return out
