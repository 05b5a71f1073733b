"""``run_experiment``: every row of a config, cross-validated, stored, tabulated and tracked."""

import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ._config import ExperimentConfig
from ._data import GROUP_NOTE, load_experiment_data, make_splits
from ._fold import FoldTask, library_versions, run_fold
from ._loading import load_config
from ._progress import EpochTicker, make_bar
from ._results import summarize, write_csv, write_markdown
from ._store import FoldStore

__all__ = ["ExperimentResult", "run_experiment"]


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    table : list of dict
        One dict per (row, protocol), sorted by mean macro recall: the rows of
        ``results.csv``.
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


def _run_fold_remote(task, images, target):
    """The Dask task: one fold, no progress bar (the parent advances it per finished fold)."""
    return run_fold(task, images, target, ticker=None)


def _say(progress, message):
    if progress:
        print(message, file=sys.stderr, flush=True)


def run_experiment(config, out_dir, *, resume=False, cv=None, tracking=True, tracking_uri=None,
                   backend="serial", scheduler=None, progress=True):
    """Cross-validate every row of an experiment config and write the results table.

    Every image is decoded and resized once; each fold fits a ``ChannelNormalizer`` on its
    training images (or uses the config's fixed statistics) and a fresh estimator. Each
    finished fold is written to ``out_dir/folds/`` at once, so that an interrupted run
    continues with ``resume=True`` and gives the same table as an uninterrupted one.

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
    cv : {"stratified", "group", "both"} or None, default=None
        Overrides the config's ``cv.protocol``. ``"group"`` (``StratifiedGroupKFold`` on the
        atlas pages) is the estimate that predicts performance on new patients.
    tracking : bool, default=True
        Log to MLflow: one parent run per (row, protocol), a nested run per fold.
    tracking_uri : str or None, default=None
        MLflow tracking URI (``http://host:5000`` for a server). ``None``:
        ``sqlite:///<out_dir>/mlflow.db`` with artifacts in ``<out_dir>/mlartifacts``.
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
    >>> sorted(row["cv"] for row in result.table)
    ['group', 'stratified']
    >>> 0 <= result.table[0]["recall_macro_mean"] <= 1, result.n_fits_run
    (True, 4)
    >>> result.csv_path.name, result.markdown_path.name
    ('results.csv', 'results.md')
    """
    start = time.perf_counter()
    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    if cv is not None:
        if cv not in ("stratified", "group", "both"):
            raise ValueError(f"cv must be 'stratified', 'group' or 'both', got {cv!r}.")
        source = config.source
        config = config.model_copy(update={"cv": config.cv.model_copy(update={"protocol": cv})})
        config._source = source
    if backend not in ("serial", "dask"):
        raise ValueError(f"backend must be 'serial' or 'dask', got {backend!r}.")
    if backend == "dask" and scheduler is None:
        raise ValueError("backend='dask' needs the scheduler: an address such as "
                         "'tcp://10.0.0.5:8786', a distributed.Client or a LocalCluster.")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = FoldStore(out_dir)
    if not resume and store.n_folds_stored():
        raise FileExistsError(
            f"{out_dir} already holds {store.n_folds_stored()} finished folds of an earlier run. "
            "Pass resume=True (--resume) to continue that run, or choose another output folder "
            "(nothing is overwritten).")
    _write_config_snapshot(config, out_dir / "config.yaml")

    data = load_experiment_data(config)
    labels = [str(c) for c in data.target_names]
    rows = config.rows()
    protocols = config.cv.protocols
    splits = {(p, s): make_splits(data, p, config.cv.n_splits, s)
              for p in protocols for s in config.cv.seeds}

    tasks = []
    for row in rows:
        for protocol in protocols:
            for seed in config.cv.seeds:
                folds = splits[protocol, seed]
                for k, (train, test) in enumerate(folds):
                    tasks.append(FoldTask(
                        row=row, protocol=protocol, seed=seed, fold=k, n_folds=len(folds),
                        train=train, test=test, labels=labels, device=config.device,
                        threads=config.threads,
                        keep_model=tracking and k == len(folds) - 1 and seed == config.cv.seeds[0]))
    records = {}
    for task in tasks:
        record = store.load_fold(*task.key)
        if record is not None:
            records[task.key] = record
    todo = [t for t in tasks if t.key not in records]
    n_resumed = len(tasks) - len(todo)

    tracker, uri = None, None
    if tracking:
        from ._tracking import Tracker, default_tracking_uri

        uri = tracking_uri or default_tracking_uri(out_dir)
        artifacts = None
        if tracking_uri is None or uri.startswith("sqlite:"):
            artifacts = (out_dir / "mlartifacts").resolve().as_uri()
        tracker = Tracker(uri, config.experiment_name, artifact_location=artifacts)

    run_params = {
        "config": str(config.source) if config.source else "<in memory>",
        "data": data.description, "image_size": config.image_size, "resize": config.resize,
        "n_splits": config.cv.n_splits, "seeds": config.cv.seeds, "device": config.device,
        "threads": config.threads,
    }
    run_ids, failed_tracking = {}, []

    def finish_group(row, protocol):
        """Log a (row, protocol) to MLflow once all its folds are stored."""
        keys = [t.key for t in tasks if t.row.row_id == row.row_id and t.protocol == protocol]
        if tracker is None or not all(k in records for k in keys):
            return
        run_id = store.tracked_run(row.row_id, protocol, uri)
        if run_id is None:
            group = [records[k] for k in sorted(keys, key=lambda k: (k[2], k[3]))]
            model_path = store.model_path(row.row_id, protocol, config.cv.seeds[0])
            try:
                run_id = tracker.log_row(row, protocol, group, summarize(row, protocol, group),
                                         run_params, data.target, model_path)
            except Exception as exc:  # the folds are safe on disk; --resume logs it later
                warnings.warn(f"MLflow logging of {row.label} ({protocol}) failed: {exc!r}. "
                              "The folds are stored; run again with --resume to log it.",
                              RuntimeWarning, stacklevel=2)
                failed_tracking.append((row.row_id, protocol))
                return
            store.mark_tracked(row.row_id, protocol, uri, run_id)
        run_ids[row.row_id, protocol] = run_id

    def on_result(task, record, model):
        store.save_fold(record)
        if model is not None:
            store.save_model(task.row.row_id, task.protocol, task.seed, model)
        records[task.key] = record
        finish_group(task.row, task.protocol)

    n_fits = len(tasks)
    _say(progress, f"{len(rows)} rows x {len(protocols)} protocol(s) x {len(config.cv.seeds)} "
                   f"seed(s) x {config.cv.n_splits} folds = {n_fits} fits on {data.description}"
                   + (f"; {n_resumed} already stored, {len(todo)} to run" if resume else ""))
    for row in rows:  # rows completed before an interruption but not yet logged
        for protocol in protocols:
            finish_group(row, protocol)

    bar = make_bar(sum(t.max_epochs for t in todo), enabled=progress)
    try:
        if backend == "serial":
            ticker = EpochTicker(bar)
            for i, task in enumerate(todo):
                bar.set_description(f"fit {i + 1}/{len(todo)} {task.row.label} {task.protocol} "
                                    f"fold {task.fold + 1}/{task.n_folds}")
                record, model = run_fold(task, data.images, data.target, ticker=ticker)
                on_result(task, record, model)
        else:
            from ._dask import run_on_dask

            by_key = {t.key: t for t in todo}
            bar.set_description(f"{len(todo)} fits on Dask")
            for record, model in run_on_dask(_run_fold_remote, todo, (data.images, data.target),
                                             scheduler):
                task = by_key[record["row_id"], record["cv"], record["seed"], record["fold"]]
                bar.update(task.max_epochs)
                on_result(task, record, model)
    finally:
        bar.close()

    table = []
    for row in rows:
        for protocol in protocols:
            keys = sorted((t.key for t in tasks
                           if t.row.row_id == row.row_id and t.protocol == protocol),
                          key=lambda k: (k[2], k[3]))
            table.append(summarize(row, protocol, [records[k] for k in keys]))
    table.sort(key=lambda r: (-r["recall_macro_mean"], r["cv"], r["model"]))

    wall = time.perf_counter() - start
    versions = library_versions()
    csv_path, md_path = out_dir / "results.csv", out_dir / "results.md"
    write_csv(csv_path, table)
    setup = (f"{config.cv.n_splits}-fold CV, seeds {config.cv.seeds}, protocol(s) "
             f"{', '.join(protocols)}; normalisation per row ({_norms(rows)}); device "
             f"{config.device}; torch threads {config.threads or 'default'}")
    write_markdown(md_path, table, title=f"Results: {config.experiment_name}",
                   data_description=data.description, setup=setup, labels=labels,
                   wall_time_s=wall, versions=versions)
    _say(progress, f"wrote {csv_path} and {md_path} ({wall:.0f} s)")
    if "group" in protocols:
        _say(progress, GROUP_NOTE)
    else:
        _say(progress, "These are stratified-CV figures; run with cv='group' (--cv group or both) "
                       "for the estimate that predicts performance on new patients.")
    if failed_tracking:
        _say(progress, f"{len(failed_tracking)} row(s) were not logged to MLflow; "
                       "rerun with --resume to log them.")
    return ExperimentResult(table=table, out_dir=out_dir, csv_path=csv_path,
                            markdown_path=md_path, tracking_uri=uri, run_ids=run_ids,
                            n_fits_run=len(todo), n_fits_resumed=n_resumed, wall_time_s=wall)


def _norms(rows):
    return ", ".join(sorted({f"{r.model}: {r.normalization}" for r in rows}))


def _write_config_snapshot(config, path):
    """The validated config as run (data path made absolute), for the record."""
    snapshot = config.model_dump(mode="json", exclude_none=True)
    if config.data.path is not None:
        snapshot["data"]["path"] = str(config.data_root())
    snapshot["source"] = str(config.source) if config.source else None
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(snapshot, fh, sort_keys=False)

