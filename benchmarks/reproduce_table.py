"""Reproduce the study's results table from a YAML experiment config.

The same as ``skin-estimators cv`` (see ``--help``), with results written by default to
``benchmarks/results/<config name>/``::

    python benchmarks/reproduce_table.py --config benchmarks/configs/study.yaml --cv both
    python benchmarks/reproduce_table.py --config benchmarks/configs/quick.yaml
    python benchmarks/reproduce_table.py --config ... --resume          # after an interruption
    python benchmarks/reproduce_table.py --config ... --backend dask --scheduler tcp://host:8786

The grouped protocol (``--cv group``) is the figure that predicts performance on new patients.
"""

import argparse
import sys
from pathlib import Path

from skin_estimators._commands import cv
from skin_estimators._commands._common import run_reporting_errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cv.add_arguments(parser)
    args = parser.parse_args(argv)
    return run_reporting_errors("reproduce_table.py", _run, args)


def _run(args):
    if args.out is None:
        from skin_estimators.experiments import load_config

        name = load_config(args.config, overrides=args.overrides,
                           models=args.models).experiment_name
        args.out = str(Path(__file__).resolve().parent / "results" / name)
    return cv.run(args)


if __name__ == "__main__":
    sys.exit(main())
