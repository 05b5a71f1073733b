"""``skin-estimators cv``: cross-validate the models of a YAML experiment config."""

import sys
from pathlib import Path

HELP = "cross-validate the models of a YAML experiment config and write the results table"

DESCRIPTION = """\
Cross-validate every row of an experiment config (models x grid), store each fold as it
finishes, and write results.csv and results.md (sorted by macro recall) in --out; log to
MLflow (by default sqlite:///<out>/mlflow.db). --cv group uses StratifiedGroupKFold on the
atlas pages; --cv controlled does the same on controlled inputs (no file size, aspect or
watermark to learn from): that figure, not the stratified one, is the one to trust. --cv all
runs the three. Every table also holds the shortcut baselines, scored on the same splits.
A config's trust: section wraps each fold's estimator in a TrustedClassifier (fitted on the
training fold only) and adds the pooled out-of-fold coverage, set size and ECE.
One run at a time may use --out (a lock file in it names the process that holds it); an
http(s) --tracking-uri is checked before any work starts.
"""


def add_arguments(parser, default_out=None):
    """Add the options of ``cv`` to ``parser``."""
    from .._internal import ARCHITECTURES

    parser.add_argument("--config", required=True, metavar="FILE", help="YAML experiment config")
    parser.add_argument("--out", metavar="DIR", default=default_out,
                        help="output folder (default: results/<config name> in the current folder)")
    parser.add_argument("--cv", choices=["stratified", "group", "controlled", "both", "all"],
                        help="CV protocol, overriding the config's cv.protocol (both: stratified "
                             "and group; all: the three)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --out; finished folds are not redone")
    parser.add_argument("--models", metavar="NAME", nargs="+",
                        help="run only the config's entries for these models (of "
                             f"{', '.join(ARCHITECTURES)}, or import paths)")
    parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                        help="override a config value by dotted key, e.g. --set image_size=64 "
                             "--set cv.n_splits=3 --set models.0.params.max_epochs=2")
    parser.add_argument("--tracking-uri", metavar="URI",
                        help="MLflow tracking URI, e.g. http://127.0.0.1:5000 "
                             "(default: sqlite:///<out>/mlflow.db)")
    parser.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    parser.add_argument("--backend", choices=["serial", "dask"], default="serial",
                        help="run the fits here (serial) or on a Dask cluster")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler address for --backend dask, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--allow-import", action="store_true",
                        help="accept model names that are import paths outside skin_estimators "
                             "('package.module:Class'); importing runs that code, so only use "
                             "it for configs you trust")


def add_parser(subparsers):
    parser = subparsers.add_parser("cv", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Run the experiment; 0 on success. Errors go through ``cli.main``: a bad config or bad
    options exit 2, a failure 1, each in one line."""
    from ._common import CommandError, check_out_outside, config_data_folders

    if args.backend == "dask" and not args.scheduler:
        raise CommandError("--backend dask needs --scheduler ADDRESS", code=2)
    if args.no_tracking and args.tracking_uri:
        raise CommandError("--no-tracking and --tracking-uri contradict each other", code=2)
    from skin_estimators.experiments import load_config, run_experiment

    config = load_config(args.config, overrides=args.overrides, models=args.models,
                         allow_import=getattr(args, "allow_import", False))
    out = Path(args.out) if args.out else Path("results") / config.experiment_name
    # Before anything is written: what cv writes inside the data folder would be read as data.
    check_out_outside(out, config_data_folders(config))
    try:
        result = run_experiment(
            config, out, resume=args.resume, cv=args.cv, tracking=not args.no_tracking,
            tracking_uri=args.tracking_uri, backend=args.backend, scheduler=args.scheduler,
            progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished folds are stored in {out / 'folds'}; continue with the "
              "same command and --resume", file=sys.stderr)
        return 130
    except ImportError as exc:  # an optional dependency (mlflow, dask) is missing
        raise CommandError(str(exc)) from None
    print(result.markdown_path.read_text())
    print(f"results: {result.csv_path}, {result.markdown_path}")
    if result.tracking_uri:
        print(f"MLflow: {result.tracking_uri} (experiment {config.experiment_name!r})")
    return 0
