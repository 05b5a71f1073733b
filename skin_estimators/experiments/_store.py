"""Each fold's result on disk as soon as it is known, so that an interrupted run can resume.

Layout of the output folder::

    folds/<row id>__<cv>__seed<seed>__fold<k>.json   one finished fold (metrics, predictions, loss)
    models/<row id>__<cv>__seed<seed>.joblib          the model fitted on the last fold
    tracked/<row id>__<cv>.json                        the MLflow run a table row was logged to

Files are written to a temporary name in the same folder, flushed to disk and renamed: a
killed process leaves either the whole file or none of it, never half of one. They get
the user's umask permissions, as a plain ``open()`` would.
"""

import json
import warnings
from pathlib import Path

from ..utils._atomic import atomic_write
from ._record import FoldRecord

__all__ = ["FoldStore"]


def _atomic_write(path, write):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


class FoldStore:
    """Finished folds, saved models and tracking marks in an output folder."""

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.folds_dir = self.out_dir / "folds"
        self.models_dir = self.out_dir / "models"
        self.tracked_dir = self.out_dir / "tracked"

    # ------------------------------------------------------------------ folds
    def fold_path(self, row_id, cv, seed, fold):
        return self.folds_dir / f"{row_id}__{cv}__seed{seed}__fold{fold}.json"

    def save_fold(self, record):
        """Write a :class:`FoldRecord`."""
        path = self.fold_path(*record.key)
        data = record.to_json().encode()
        _atomic_write(path, lambda fh: fh.write(data))
        return path

    def load_fold(self, row_id, cv, seed, fold):
        """The stored FoldRecord, or None when the fold has not finished (or is unreadable)."""
        path = self.fold_path(row_id, cv, seed, fold)
        if not path.exists():
            return None
        try:
            return FoldRecord.from_json(path.read_text())
        except (OSError, ValueError, TypeError) as exc:
            warnings.warn(f"ignoring unreadable fold result {path} ({exc}); the fold is run again",
                          RuntimeWarning, stacklevel=2)
            return None

    def n_folds_stored(self):
        return len(list(self.folds_dir.glob("*.json"))) if self.folds_dir.is_dir() else 0

    # ------------------------------------------------------------------ models
    def model_path(self, row_id, cv, seed):
        return self.models_dir / f"{row_id}__{cv}__seed{seed}.joblib"

    def save_model(self, row_id, cv, seed, model):
        import joblib

        path = self.model_path(row_id, cv, seed)
        _atomic_write(path, lambda fh: joblib.dump(model, fh))
        return path

    # ------------------------------------------------------------------ tracking marks
    def tracked_path(self, row_id, cv):
        return self.tracked_dir / f"{row_id}__{cv}.json"

    def tracked_run(self, row_id, cv, tracking_uri):
        """The MLflow run id this row was logged to at ``tracking_uri``, or None."""
        path = self.tracked_path(row_id, cv)
        if not path.exists():
            return None
        try:
            marks = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return marks.get(tracking_uri)

    def mark_tracked(self, row_id, cv, tracking_uri, run_id):
        path = self.tracked_path(row_id, cv)
        marks = {}
        if path.exists():
            try:
                marks = json.loads(path.read_text())
            except (OSError, ValueError):
                marks = {}
        marks[tracking_uri] = run_id
        data = json.dumps(marks, indent=1).encode()
        _atomic_write(path, lambda fh: fh.write(data))
