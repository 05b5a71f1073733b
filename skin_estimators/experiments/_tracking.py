"""MLflow logging of finished table rows, done by the parent process from the stored folds.

One parent run per (config row, CV protocol) and one nested run per fold (and seed). The
parent holds the parameters, mean/std and pooled metrics (with a ``trust:`` section also
coverage, set size and ECE), the summed confusion matrix, the loss curves of all folds, the
classification report of the out-of-fold predictions and the last fold's model; each fold run
its metrics, per-epoch ``train_loss``, confusion matrix and report. Workers never talk to
MLflow: everything is logged from the fold records, so a Dask cluster needs no tracking
connection and a resumed run logs exactly what an uninterrupted one would.

The tracking store defaults to ``sqlite:///<out_dir>/mlflow.db`` with artifacts in
``<out_dir>/mlartifacts``: beside the results, and never in whatever folder the command was
started from. ``mlflow ui --backend-store-uri sqlite:///<out_dir>/mlflow.db`` shows it.
"""

import json
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from ._fold_trust import fold_trust_metrics
from ._plots import confusion_matrix_png, loss_curve_png

__all__ = ["TRACKING_CHECK_TIMEOUT_S", "Tracker", "check_tracking_uri", "default_tracking_uri"]

# MLflow's limit on a parameter value (characters).
_MAX_PARAM = 6000


def default_tracking_uri(out_dir):
    """``sqlite:///<out_dir>/mlflow.db`` (absolute)."""
    return f"sqlite:///{(Path(out_dir) / 'mlflow.db').resolve()}"


#: Seconds :func:`check_tracking_uri` waits for a tracking server's answer.
TRACKING_CHECK_TIMEOUT_S = 5.0


def _probe(url, timeout, outcome):
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        # A server answered (401, 404, ...): MLflow reports the rest. A proxy's 5xx says the
        # server behind it is down, which MLflow would retry for minutes.
        if exc.code >= 500:
            outcome.append(f"HTTP {exc.code} {exc.reason}")
    except (OSError, ValueError) as exc:  # URLError, refused, reset, timed out, bad URL
        reason = getattr(exc, "reason", None) or exc
        outcome.append(" ".join(str(reason).split()) or type(exc).__name__)


def check_tracking_uri(uri, timeout=TRACKING_CHECK_TIMEOUT_S):
    """Refuse an ``http(s)://`` tracking URI whose server does not answer within ``timeout`` s.

    MLflow's client retries an unreachable server with growing pauses for minutes before it
    fails with a chain of tracebacks; this asks the server's ``/health`` page once, before
    any work starts. Any HTTP answer but a 5xx counts as reachable. Other URIs (``sqlite:``,
    a folder, ``databricks``) are not checked. The wait is bounded by ``timeout`` also where
    the host name does not resolve (the request runs in a daemon thread).

    Raises
    ------
    ConnectionError
        One line naming the URI, what went wrong and how to run without tracking.
    """
    uri = str(uri)
    if not uri.lower().startswith(("http://", "https://")):
        return
    outcome = []
    probe = threading.Thread(target=_probe, args=(uri.rstrip("/") + "/health", timeout, outcome),
                             daemon=True)
    probe.start()
    probe.join(timeout + 1)
    if probe.is_alive():
        outcome.append(f"no answer within {timeout:g} s")
    if outcome:
        raise ConnectionError(
            f"MLflow tracking server {uri} cannot be reached ({outcome[0]}): start it or fix "
            "the tracking URI (--tracking-uri), or run without tracking (--no-tracking, "
            "tracking=False)")


def _params(mapping):
    from mlflow.entities import Param

    return [Param(str(k), str(v)[:_MAX_PARAM]) for k, v in mapping.items()]


def _metrics(mapping, step=0):
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(str(k), float(v), now, step) for k, v in mapping.items()
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)]


def _fold_metrics(record):
    out = dict(record.metrics)
    for kind in ("recall", "specificity"):
        for label, value in record.per_class[kind].items():
            out[f"{kind}_{label}"] = value
    for key in ("fit_time_s", "predict_time_s", "peak_memory_mb", "trainable_parameters"):
        out[key] = getattr(record, key)
    out.update(fold_trust_metrics(record))  # coverage, set size, ECE of a trust: fold
    return out


class Tracker:
    """Logs table rows to one MLflow experiment through ``MlflowClient`` (no global run state)."""

    def __init__(self, tracking_uri, experiment_name, artifact_location=None):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise ImportError(
                f"MLflow tracking needs mlflow ({exc}): pip install 'skin-estimators[tracking]', "
                "or run without tracking (tracking=False, --no-tracking).") from exc

        from mlflow.exceptions import MlflowException

        self.tracking_uri = tracking_uri
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri)
            experiment = self.client.get_experiment_by_name(experiment_name)
            if experiment is None:
                self.experiment_id = self.client.create_experiment(
                    experiment_name, artifact_location=artifact_location)
            else:
                if experiment.lifecycle_stage == "deleted":
                    self.client.restore_experiment(experiment.experiment_id)
                self.experiment_id = experiment.experiment_id
        except MlflowException as exc:  # a server that answers, but not as MLflow does
            detail = " ".join(str(exc).split())
            raise ConnectionError(
                f"MLflow tracking at {tracking_uri} failed ({detail[:300]}): fix the tracking "
                "URI (--tracking-uri), or run without tracking (--no-tracking, tracking=False)"
            ) from None

    def _run(self, name, tags, parent=None):
        tags = dict(tags)
        if parent is not None:
            tags["mlflow.parentRunId"] = parent  # what makes MLflow show it nested
        return self.client.create_run(self.experiment_id, run_name=name, tags=tags).info.run_id

    def log_row(self, row, protocol, records, summary, run_params, data_target, model_path=None):
        """Log one table row; returns the parent run's id."""
        from skin_estimators.metrics import clinical_report

        labels = records[0].labels
        grid = " ".join(f"{k}={v}" for k, v in row.grid_values.items())
        tags = {"model": row.model, "cv": protocol, "row_id": row.row_id}
        parent = self._run(f"{row.label} {protocol} {grid}".strip(), tags)
        status = "FAILED"
        try:
            params = {"model": row.model, "cv": protocol, **run_params,
                      "normalization": row.normalization, **row.params}
            self.client.log_batch(parent, params=_params(params))
            # (the _pooled figures: macro recall and, with trust:, coverage, set size, ECE)
            means = {k: v for k, v in summary.items()
                     if k.endswith(("_mean", "_std")) or (k.endswith("_pooled") and v == v)}
            for key in ("total_time_s", "trainable_parameters", "peak_memory_mb", "num_epochs"):
                means[key] = summary[key]
            self.client.log_batch(parent, metrics=_metrics(means))

            curves = {}
            y_true_all, y_pred_all = [], []
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                for rec in records:
                    name = f"fold {rec.fold}" + (f" seed {rec.seed}" if len(
                        {r.seed for r in records}) > 1 else "")
                    curves[name] = rec.train_loss
                    y_true = data_target[rec.test_index]
                    y_true_all.append(y_true)
                    y_pred_all.append(np.asarray(rec.y_pred))
                    self._log_fold(parent, tags, rec, name, y_true, labels, tmp)
                cm = np.sum([np.asarray(r.confusion_matrix) for r in records], axis=0)
                confusion_matrix_png(tmp / "confusion_matrix_summed.png", cm, labels,
                                     f"{row.label} ({protocol}): all test folds")
                loss_curve_png(tmp / "loss_curves.png", curves, f"{row.label} ({protocol})")
                report = clinical_report(np.concatenate(y_true_all), np.concatenate(y_pred_all),
                                         labels=labels)
                (tmp / "classification_report.txt").write_text(
                    f"Out-of-fold predictions of {row.label} ({protocol} CV)\n\n{report}")
                (tmp / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
                for name in ("confusion_matrix_summed.png", "loss_curves.png",
                             "classification_report.txt", "summary.json"):
                    self.client.log_artifact(parent, str(tmp / name))
                if model_path is not None and Path(model_path).exists():
                    self.client.log_artifact(parent, str(model_path), artifact_path="model")
            status = "FINISHED"
        finally:
            self.client.set_terminated(parent, status=status)
        return parent

    def _log_fold(self, parent, tags, rec, name, y_true, labels, tmp):
        from mlflow.entities import Metric

        from skin_estimators.metrics import clinical_report

        child = self._run(name, tags, parent=parent)
        status = "FAILED"
        try:
            self.client.log_batch(child, params=_params({
                "fold": rec.fold, "seed": rec.seed, "n_train": rec.n_train,
                "n_test": rec.n_test, "device": rec.device, "threads": rec.threads}))
            now = int(time.time() * 1000)
            losses = [Metric("train_loss", float(v), now, step)
                      for step, v in enumerate(rec.train_loss, start=1)]
            self.client.log_batch(child, metrics=_metrics(_fold_metrics(rec)) + losses)
            stem = f"fold{rec.fold}_seed{rec.seed}"
            # The fold's loss curve is its train_loss metric (MLflow plots it); the parent
            # run has the PNG of all folds' curves.
            files = [confusion_matrix_png(tmp / f"confusion_matrix_{stem}.png",
                                          rec.confusion_matrix, labels, name)]
            report = tmp / f"classification_report_{stem}.txt"
            report.write_text(clinical_report(y_true, np.asarray(rec.y_pred), labels=labels))
            files.append(report)
            for path in files:
                self.client.log_artifact(child, str(path))
            status = "FINISHED"
        finally:
            self.client.set_terminated(child, status=status)
        return child
