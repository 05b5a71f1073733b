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
    from ._commands._common import CommandError

    prog = f"skin-estimators {args.command}"
    try:
        return args.func(args)
    except CommandError as exc:
        if exc.code == 2:
            print(f"usage: {prog} ... (see {prog} --help)", file=sys.stderr)
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except (ValueError, OSError) as exc:
        # The library's errors name the file or parameter and say what to do; a traceback
        # would only bury that line. A bad experiment config is a usage error, as bad options.
        code = 2 if _is_config_error(exc) else 1
        if code == 2:
            print(f"usage: {prog} ... (see {prog} --help)", file=sys.stderr)
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _is_config_error(exc):
    # experiments (pydantic) is imported only by the commands that read configs; a
    # ConfigError can only come from there.
    experiments = sys.modules.get("skin_estimators.experiments")
    return experiments is not None and isinstance(exc, experiments.ConfigError)


if __name__ == "__main__":
    sys.exit(main())
