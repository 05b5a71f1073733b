"""The result of one fold as a typed record: made by ``run_fold``, stored as JSON by
``FoldStore``, read by the results table and the MLflow tracker.

``to_json``/``from_json`` are the only places that know its file format: the JSON object has
one key per field, so the folds of runs stored before this class existed resume as they are.
"""

import json
from dataclasses import MISSING, asdict, dataclass, field, fields

__all__ = ["FoldRecord"]


@dataclass
class FoldRecord:
    """One fitted and evaluated fold (plain JSON types only: it travels from Dask workers)."""

    row_id: str
    model: str
    label: str
    params: dict
    cv: str  # the protocol: "stratified" or "group"
    seed: int
    fold: int
    n_folds: int
    n_train: int
    n_test: int
    metrics: dict  # recall_macro, precision_macro, f1_macro, accuracy, geometric_mean
    per_class: dict  # {"recall": {label: value}, "specificity": {label: value}}
    labels: list
    confusion_matrix: list
    test_index: list
    y_pred: list
    train_loss: list
    # None for an estimator that is not a skorch net (e.g. features + logistic regression).
    epochs: int | None
    batch_size: int | None
    lr: float | None
    trainable_parameters: int | None
    fit_time_s: float
    predict_time_s: float
    peak_memory_mb: float
    peak_memory_kind: str
    device: str
    threads: int
    host: str
    versions: dict
    # Seconds per epoch (skorch's history "dur"); [] for non-skorch estimators and for the
    # folds stored before this field existed. Shows whether training slowed down mid-fit.
    epoch_time_s: list = field(default_factory=list)
    # With a ``trust:`` section: the TrustedClassifier's out-of-fold answers on the test fold
    # (see ``_fold_trust.fold_trust``); None without one, and for folds stored before it.
    trust: dict | None = None

    @property
    def key(self):
        """``(row_id, cv, seed, fold)``: what identifies the fold in a run."""
        return (self.row_id, self.cv, self.seed, self.fold)

    def to_json(self):
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        """The record of a stored fold; ValueError if the text is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a fold record (missing everything)")
        required = [f.name for f in fields(cls)
                    if f.default is MISSING and f.default_factory is MISSING]
        missing = [n for n in required if n not in data]
        if missing:
            raise ValueError(f"not a fold record (missing {', '.join(missing)})")
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
