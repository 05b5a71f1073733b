"""Rebuild the committed skin3 manifest from a verified copy of the images.

Run once, from a copy you trust (the published skin3 images)::

    python -m skin_estimators.datasets._make_manifest /work/shared/data/skin3

and commit the rewritten ``skin_estimators/datasets/skin3_manifest.csv``.
"""

import argparse
import os

from ._manifest import write_manifest

_DEFAULT_OUTPUT = os.path.join(os.path.dirname(__file__), "skin3_manifest.csv")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="the class-per-folder tree (e.g. .../skin3)")
    parser.add_argument("-o", "--output", default=_DEFAULT_OUTPUT, help="manifest CSV to write")
    args = parser.parse_args(argv)
    n = write_manifest(args.root, args.output)
    print(f"wrote {n} images to {args.output}")


if __name__ == "__main__":
    main()
