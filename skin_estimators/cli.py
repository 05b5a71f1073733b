"""The ``skin-estimators`` command: parsing and printing only; the work is in the library.

Exit codes: 0 success, 1 failure (some input or step failed), 2 usage error.
"""

import argparse
import importlib
import sys

from ._commands import SUBCOMMANDS
from ._version import __version__


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skin-estimators",
        description="Classify skin-disease photographs with scikit-learn compatible networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"skin_estimators._commands.{name}").add_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point; returns the exit code (0 success, 1 failure, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    from ._commands._common import run_reporting_errors

    return run_reporting_errors(f"skin-estimators {args.command}", args.func, args)


if __name__ == "__main__":
    sys.exit(main())
