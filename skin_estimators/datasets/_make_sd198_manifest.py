"""Rebuild the committed SD-198 manifest from the manifests of a verified copy.

Run once, from a copy you trust (the unmodified files of the pinned mirror, with their
``sd198.manifest.tsv`` and ``sd198_other.manifest.tsv``)::

    python -m skin_estimators.datasets._make_sd198_manifest /work/shared/data

and commit the rewritten ``skin_estimators/datasets/sd198_manifest.csv``.
"""

import argparse
import csv
import os

from ._sd198 import FIELDS, SUBSETS

_DEFAULT_OUTPUT = os.path.join(os.path.dirname(__file__), "sd198_manifest.csv")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="the folder holding sd198.manifest.tsv and "
                                     "sd198_other.manifest.tsv")
    parser.add_argument("-o", "--output", default=_DEFAULT_OUTPUT, help="manifest CSV to write")
    args = parser.parse_args(argv)
    rows = []
    for subset, folder in SUBSETS.items():
        with open(os.path.join(args.root, f"{folder}.manifest.tsv"), newline="",
                  encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                rows.append({"subset": subset, **{k: row[k] for k in FIELDS[1:]}})
    rows.sort(key=lambda r: (r["subset"], r["path"]))
    with open(args.output, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} files to {args.output}")


if __name__ == "__main__":
    main()
