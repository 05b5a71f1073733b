"""One module per subcommand of the ``skin-estimators`` command line.

Each module defines ``add_parser(subparsers)``, which registers its subcommand and sets
``func`` (taking the parsed arguments, returning the exit code). Command modules only parse
and print; the work is done by the public API. Heavy imports (torch, mlflow, matplotlib)
happen inside ``func`` so that ``--help`` stays fast.
"""

# Order in which the subcommands appear in ``skin-estimators --help``.
SUBCOMMANDS = [
    "cv", "train", "adapt", "predict", "evaluate", "describe", "audit", "info", "explain", "download_weights",
]
