"""``run_experiment``: every row of a config, cross-validated, stored, tabulated and tracked.

Three parts: :func:`plan_experiment` (decode the images once, one :class:`FoldTask` per fit),
:func:`execute` (the fits, serial or on Dask) and ``_Report`` (each fold to the store as it
finishes, each finished (row, protocol) to MLflow, the tables at the end).
"""

import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..utils._atomic import atomic_open
from ._baselines import baseline_table
from ._config import CONTROLLED, PROTOCOL_SETS, ExperimentConfig
from ._data import CONTROLLED_NOTE, GROUP_NOTE, load_experiment_data, make_splits
from ._fold import FoldTask, library_versions, run_fold
from ._fold_trust import GROUPED_PROTOCOLS
from ._loading import load_config
from ._lock import FolderLock
from ._progress import EpochTicker, make_bar
from ._results import summarize, write_csv, write_markdown
from ._store import FoldStore

__all__ = ["ExperimentResult", "Plan", "execute", "plan_experiment", "run_experiment"]


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    table : list of dict
        One dict per (row, protocol), and per (shortcut baseline, protocol) with
        ``baseline: True``, sorted by mean macro recall: the rows of ``results.csv``.
    out_dir, csv_path, markdown_path : pathlib.Path
        The output folder and the two tables in it.
    tracking_uri : str or None
        Where the MLflow runs went (None without tracking).
    run_ids : dict
        ``(row_id, cv) -> MLflow parent run id``.
    n_fits_run, n_fits_resumed : int
        Folds fitted in this call, and folds taken from an interrupted run (``resume=True``).
    wall_time_s : float
        Duration of the call.

    Examples
    --------
    See :func:`run_experiment` for a run; the fields:

    >>> import dataclasses
    >>> from skin_estimators.experiments import ExperimentResult
    >>> [f.name for f in dataclasses.fields(ExperimentResult)][:4]
    ['table', 'out_dir', 'csv_path', 'markdown_path']
    """

    table: list  # one dict per (row, protocol), sorted by mean macro recall
    out_dir: Path
    csv_path: Path
    markdown_path: Path
    tracking_uri: str | None = None
    run_ids: dict = field(default_factory=dict)  # (row_id, cv) -> MLflow parent run id
    n_fits_run: int = 0
    n_fits_resumed: int = 0
    wall_time_s: float = 0.0


def _run_fold_remote(task, images, controlled_images, target, negatives=None,
                     controlled_negatives=None):
    """The Dask task: one fold, no progress bar (the parent advances it per finished fold)."""
    neg = controlled_negatives if task.controlled else negatives
    return run_fold(task, controlled_images if task.controlled else images, target, ticker=None,
                    negatives=neg if neg is not None and len(neg) else None)


def _say(progress, message):
    if progress:
        print(message, file=sys.stderr, flush=True)


def run_experiment(config, out_dir, *, resume=False, cv=None, tracking=True, tracking_uri=None,
                   backend="serial", scheduler=None, progress=True):
    """Cross-validate every row of an experiment config and write the results table.

    Every image is decoded once; each fold fits a fresh estimator (and a ``ChannelNormalizer``
    unless the config fixes the statistics) and is written to ``out_dir/folds/`` at once, so
    ``resume=True`` continues an interrupted run to the table of an uninterrupted one. With a
    ``trust:`` section each fold's estimator is a ``TrustedClassifier`` (grouped inner CV under
    the grouped and controlled protocols), and the table gets the coverage, set size, ECE and
    log loss of each seed's pooled out-of-fold predictions.

    Parameters
    ----------
    config : ExperimentConfig, str or path-like
        A config from :func:`load_config`, or the path of its YAML file.
    out_dir : str or path-like
        Where ``results.csv``, ``results.md``, ``config.yaml``, ``folds/``, ``models/`` (the
        model of each row's last fold, when tracking) and, by default, the MLflow store go.
    resume : bool, default=False
        Continue a run in ``out_dir``: folds already stored are not fitted again. Without it,
        an ``out_dir`` that holds stored folds is an error (nothing is overwritten).
    cv : {"stratified", "group", "controlled", "both", "all"} or None, default=None
        Overrides the config's ``cv.protocol``. ``"group"`` is ``StratifiedGroupKFold`` on the
        atlas pages; ``"controlled"`` is the same on controlled inputs (no file size, aspect
        or watermark to learn from): the estimate to trust. ``"both"`` is stratified and
        group, ``"all"`` the three. Every table also holds the shortcut baselines.
    tracking : bool, default=True
        Log to MLflow: one parent run per (row, protocol), a nested run per fold.
    tracking_uri : str or None, default=None
        MLflow tracking URI (``http://host:5000``: a server, asked once before any work).
        ``None``: ``sqlite:///<out_dir>/mlflow.db``, artifacts in ``<out_dir>/mlartifacts``.
    backend : {"serial", "dask"}, default="serial"
        ``"dask"`` runs the folds on the Dask cluster at ``scheduler`` through joblib's Dask
        backend; results, storage and MLflow logging stay in this process.
    scheduler : str, distributed.Client or cluster, default=None
        The Dask scheduler (address, client or ``LocalCluster``); needed for ``"dask"``.
    progress : bool, default=True
        A progress bar over rows x folds x epochs with an ETA, and messages, on stderr.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    ConnectionError
        If the tracking server at an ``http(s)://`` ``tracking_uri`` cannot be reached.
    OSError
        If another process runs in ``out_dir`` (holding its lock file ``.skin-estimators.lock``
        for the whole run), or ``out_dir`` holds folds of an earlier run and ``resume=False``.

    Examples
    --------
    Six images per class at 16x16, one epoch, both protocols (a few seconds):

    >>> import tempfile
    >>> from skin_estimators.experiments import run_experiment, validate_config
    >>> config = validate_config({
    ...     "data": {"fetch_skin3": True, "images_per_class": 6}, "image_size": 16,
    ...     "threads": 1, "cv": {"protocol": "both", "n_splits": 2},
    ...     "models": [{"name": "cnn", "params": {"max_epochs": 1, "lr": 0.01}}]})
    >>> result = run_experiment(config, tempfile.mkdtemp(), tracking=False, progress=False)
    >>> sorted(row["cv"] for row in result.table if row["model"] == "cnn")
    ['group', 'stratified']
    >>> sorted({row["model"] for row in result.table if row.get("baseline")})
    ['baseline:corners', 'baseline:geometry']
    >>> 0 <= result.table[0]["recall_macro_mean"] <= 1, result.n_fits_run
    (True, 4)
    >>> result.csv_path.name, result.markdown_path.name
    ('results.csv', 'results.md')
    """
    start = time.perf_counter()
    config = _checked(config, cv, backend, scheduler, tracking_uri if tracking else None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # One run per folder: a second would redo every fold and race on the MLflow store.
    with FolderLock(out_dir, what="run"):
        return _run_locked(config, out_dir, start, resume=resume, tracking=tracking,
                           tracking_uri=tracking_uri, backend=backend, scheduler=scheduler,
                           progress=progress)


def _run_locked(config, out_dir, start, *, resume, tracking, tracking_uri, backend, scheduler,
                progress):
    """The body of :func:`run_experiment`, run while this process holds ``out_dir``."""
    store = _open_store(out_dir, resume)
    _write_config_snapshot(config, out_dir / "config.yaml")

    plan = plan_experiment(config, keep_models=tracking)
    report = _Report(config, plan, store, tracking, tracking_uri, out_dir)
    todo = report.resume()
    _say(progress, f"{len(plan.rows)} rows x {len(plan.protocols)} protocol(s) x "
                   f"{len(config.cv.seeds)} seed(s) x {config.cv.n_splits} folds = "
                   f"{len(plan.tasks)} fits on {plan.data.description}"
                   + (f"; {len(plan.tasks) - len(todo)} already stored, {len(todo)} to run"
                      if resume else ""))
    execute(todo, plan.data, report.add, backend=backend, scheduler=scheduler,
            progress=progress)
    return report.finish(time.perf_counter() - start, n_run=len(todo), progress=progress)


# ------------------------------------------------------------------------------ plan
@dataclass
class Plan:
    """The fits of a run: the decoded data, the rows and protocols, one FoldTask per fit."""

    data: object
    rows: list
    protocols: list
    labels: list
    tasks: list
    splits: dict = field(default_factory=dict)  # (protocol, seed) -> [(train, test), ...]


def _checked(config, cv, backend, scheduler, tracking_uri=None):
    """The config to run (read from a path, with ``cv`` overriding its protocol), once the
    arguments and the tracking server (``tracking_uri``, if any) are checked."""
    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    if cv is not None:
        if cv not in PROTOCOL_SETS:
            raise ValueError(f"cv must be one of {', '.join(map(repr, PROTOCOL_SETS))}, "
                             f"got {cv!r}.")
        config = config.with_protocol(cv)
    if backend not in ("serial", "dask"):
        raise ValueError(f"backend must be 'serial' or 'dask', got {backend!r}.")
    if backend == "dask" and scheduler is None:
        raise ValueError("backend='dask' needs the scheduler: an address such as "
                         "'tcp://10.0.0.5:8786', a distributed.Client or a LocalCluster.")
    if tracking_uri is not None:  # before anything is written or decoded
        from ._tracking import check_tracking_uri

        check_tracking_uri(tracking_uri)
    return config


def _open_store(out_dir, resume):
    out_dir.mkdir(parents=True, exist_ok=True)
    store = FoldStore(out_dir)
    if not resume and store.n_folds_stored():
        raise FileExistsError(
            f"{out_dir} already holds {store.n_folds_stored()} finished folds of an earlier run. "
            "Pass resume=True (--resume) to continue that run, or choose another output folder "
            "(nothing is overwritten).")
    return store


def plan_experiment(config, keep_models=True):
    """Decode the images once and list every fit: rows x protocols x seeds x folds.

    With ``keep_models``, the last fold of the first seed of each (row, protocol) keeps its
    fitted model (saved and logged to MLflow).
    """
    data = load_experiment_data(config)
    rows, protocols, seeds = config.rows(), config.cv.protocols, config.cv.seeds
    labels = [str(c) for c in data.target_names]
    splits = {(p, s): make_splits(data, p, config.cv.n_splits, s) for p in protocols for s in seeds}
    tasks = []
    for row in rows:
        for protocol in protocols:
            for seed in seeds:
                folds = splits[protocol, seed]
                grouped = config.trust is not None and protocol in GROUPED_PROTOCOLS
                tasks += [FoldTask(
                    row=row, protocol=protocol, seed=seed, fold=k, n_folds=len(folds),
                    train=train, test=test, labels=labels, device=config.device,
                    threads=config.threads,
                    keep_model=keep_models and k == len(folds) - 1 and seed == seeds[0],
                    trust=config.trust, groups=data.groups[train] if grouped else None)
                    for k, (train, test) in enumerate(folds)]
    return Plan(data=data, rows=rows, protocols=protocols, labels=labels, tasks=tasks,
                splits=splits)


# ------------------------------------------------------------------------------ execute
def execute(tasks, data, on_result, *, backend="serial", scheduler=None, progress=True):
    """Fit every task, here or on Dask; ``on_result(task, record, model)`` as each finishes."""
    bar = make_bar(sum(t.max_epochs for t in tasks), enabled=progress)
    try:
        if backend == "serial":
            ticker = EpochTicker(bar)
            for i, task in enumerate(tasks):
                bar.set_description(f"fit {i + 1}/{len(tasks)} {task.row.label} {task.protocol} "
                                    f"fold {task.fold + 1}/{task.n_folds}")
                images = data.controlled_images if task.controlled else data.images
                before = bar.n
                result = run_fold(task, images, data.target, ticker=ticker,
                                  negatives=(data.negative_images or {}).get(task.controlled))
                # A fit that reported fewer epochs than planned (a scikit-learn pipeline
                # reports none, early stopping ends sooner) still completes its share.
                bar.update(max(0, task.max_epochs - (bar.n - before)))
                on_result(task, *result)
        else:
            from ._dask import run_on_dask

            by_key = {t.key: t for t in tasks}
            bar.set_description(f"{len(tasks)} fits on Dask")
            # (an empty array for inputs no task needs: nothing to scatter)
            shared = [a if a is not None else np.empty(0, np.uint8)
                      for a in (data.images, data.controlled_images,
                                *map((data.negative_images or {}).get, (False, True)))]
            shared.insert(2, data.target)
            for record, model in run_on_dask(_run_fold_remote, tasks, tuple(shared), scheduler):
                task = by_key[record.key]
                bar.update(task.max_epochs)
                on_result(task, record, model)
    finally:
        bar.close()


# ------------------------------------------------------------------------------ report
class _Report:
    """Where results go: each fold to the store at once, each finished (row, protocol) to
    MLflow, and at the end the tables."""

    def __init__(self, config, plan, store, tracking, tracking_uri, out_dir):
        self.config, self.plan, self.store, self.out_dir = config, plan, store, out_dir
        self.records, self.run_ids, self.failed_tracking = {}, {}, []
        self.tracker, self.uri = None, None
        if tracking:
            from ._tracking import Tracker, default_tracking_uri

            self.uri = tracking_uri or default_tracking_uri(out_dir)
            artifacts = None
            if tracking_uri is None or self.uri.startswith("sqlite:"):
                artifacts = (out_dir / "mlartifacts").resolve().as_uri()
            self.tracker = Tracker(self.uri, config.experiment_name, artifact_location=artifacts)
        self.run_params = {
            "config": str(config.source) if config.source else "<in memory>",
            "data": plan.data.description, "image_size": config.image_size,
            "resize": config.resize, "n_splits": config.cv.n_splits, "seeds": config.cv.seeds,
            "device": config.device, "threads": config.threads,
        }
        if config.trust is not None:
            self.run_params["trust"] = config.trust.model_dump()
        if config.color_constancy is not None:
            self.run_params["color_constancy"] = config.color_constancy

    def resume(self):
        """Take the folds already stored; log the groups they complete. Returns the rest."""
        for task in self.plan.tasks:
            record = self.store.load_fold(*task.key)
            if record is not None:
                self.records[task.key] = record
        for row in self.plan.rows:  # rows completed before an interruption but not yet logged
            for protocol in self.plan.protocols:
                self._finish_group(row, protocol)
        return [t for t in self.plan.tasks if t.key not in self.records]

    def add(self, task, record, model):
        self.store.save_fold(record)
        if model is not None:
            self.store.save_model(task.row.row_id, task.protocol, task.seed, model)
        self.records[task.key] = record
        self._finish_group(task.row, task.protocol)

    def _group(self, row, protocol):
        """The task keys of a (row, protocol), by seed and fold."""
        return sorted((t.key for t in self.plan.tasks
                       if t.row.row_id == row.row_id and t.protocol == protocol),
                      key=lambda k: (k[2], k[3]))

    def _finish_group(self, row, protocol):
        """Log a (row, protocol) to MLflow once all its folds are stored."""
        keys = self._group(row, protocol)
        if self.tracker is None or not all(k in self.records for k in keys):
            return
        run_id = self.store.tracked_run(row.row_id, protocol, self.uri)
        if run_id is None:
            group = [self.records[k] for k in keys]
            model_path = self.store.model_path(row.row_id, protocol, self.config.cv.seeds[0])
            try:
                run_id = self.tracker.log_row(row, protocol, group,
                                              summarize(row, protocol, group), self.run_params,
                                              self.plan.data.target, model_path)
            except Exception as exc:  # the folds are safe on disk; --resume logs it later
                warnings.warn(f"MLflow logging of {row.label} ({protocol}) failed: {exc!r}. "
                              "The folds are stored; run again with --resume to log it.",
                              RuntimeWarning, stacklevel=2)
                self.failed_tracking.append((row.row_id, protocol))
                return
            self.store.mark_tracked(row.row_id, protocol, self.uri, run_id)
        self.run_ids[row.row_id, protocol] = run_id

    def finish(self, wall, n_run, progress):
        """Write results.csv and results.md; return the ExperimentResult."""
        config, plan = self.config, self.plan
        table = [summarize(row, protocol, [self.records[k] for k in self._group(row, protocol)])
                 for row in plan.rows for protocol in plan.protocols]
        # What the image file alone scores under the same splits, beside the models.
        table += baseline_table(plan.data, plan.splits, plan.labels)
        table.sort(key=lambda r: (-r["recall_macro_mean"], r["cv"], r["model"]))
        csv_path, md_path = self.out_dir / "results.csv", self.out_dir / "results.md"
        write_csv(csv_path, table)
        setup = (f"{config.cv.n_splits}-fold CV, seeds {config.cv.seeds}, protocol(s) "
                 f"{', '.join(plan.protocols)}; normalisation per row ({_norms(plan.rows)}); "
                 f"device {config.device}; torch threads {config.threads or 'default'}")
        write_markdown(md_path, table, title=f"Results: {config.experiment_name}",
                       data_description=plan.data.description, setup=setup, labels=plan.labels,
                       wall_time_s=wall, versions=library_versions())
        _say(progress, f"wrote {csv_path} and {md_path} ({wall:.0f} s)")
        if CONTROLLED in plan.protocols:
            _say(progress, CONTROLLED_NOTE)
        elif "group" in plan.protocols:
            _say(progress, GROUP_NOTE + " Run with cv='controlled' (--cv controlled or all) "
                           "for the estimate without the image files' shortcuts.")
        else:
            _say(progress, "These are stratified-CV figures; run with cv='controlled' (--cv "
                           "controlled or all) for the estimate to trust.")
        if self.failed_tracking:
            _say(progress, f"{len(self.failed_tracking)} row(s) were not logged to MLflow; "
                           "rerun with --resume to log them.")
        return ExperimentResult(table=table, out_dir=self.out_dir, csv_path=csv_path,
                                markdown_path=md_path, tracking_uri=self.uri,
                                run_ids=self.run_ids, n_fits_run=n_run,
                                n_fits_resumed=len(plan.tasks) - n_run, wall_time_s=wall)


def _norms(rows):
    return ", ".join(sorted({f"{r.model}: {r.normalization}" for r in rows}))


def _write_config_snapshot(config, path):
    """The validated config as run (data path made absolute), for the record."""
    snapshot = config.model_dump(mode="json", exclude_none=True)
    if config.data.path is not None:
        snapshot["data"]["path"] = str(config.data_root())
    snapshot["source"] = str(config.source) if config.source else None
    with atomic_open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(snapshot, fh, sort_keys=False)

