"""``skin-estimators audit DATA --out DIR``: look for shortcuts in a labelled image set."""

import argparse

from ._common import check_out_outside, data_folders, load_cli_data, positive_int, say

DESCRIPTION = """\
Look for what a model could learn instead of the disease, from the files alone: shortcut
baselines (a random forest on each cheap property: width, height, aspect, file size, JPEG
quantisation tables, EXIF Software and DPI, JFIF header, CleanVision's brightness, blur and
information scores), a corner probe (watermarks, frames), a size probe (traces of the original
resolution) and near-duplicate photos. Scores are macro recall under stratified and (with
groups: atlas pages, or fetch_skin3's groups) grouped cross-validation, against chance.

Writes report.md, audit.json (shortcuts, corner_probe, size_probe, duplicates, ...) and
pictures (shortcuts.png, corners.png, duplicates.png) into DIR and prints the findings.
With --controlled the probes also look at the images after the controlled input pipeline
(bottom 15 % cut, shorter side 298 px, centre square), what a model fed those inputs sees.
"""

EXAMPLE = """\
example:
  skin-estimators audit skin3 --out audit/ --controlled
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "audit", help="look for shortcuts (geometry, watermarks, duplicates) in a dataset",
        description=DESCRIPTION, epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", metavar="DATA",
                   help="folder with one sub-folder of images per class, or 'skin3' for the "
                        "study's dataset (fetch_skin3)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (created); not inside DATA, where the next run would "
                        "read its files as photos")
    p.add_argument("--controlled", action="store_true",
                   help="also probe the images after the controlled input pipeline")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                   help="CV seeds; scores are averaged over their folds (default: 0)")
    p.add_argument("--image-size", type=positive_int, default=256,
                   help="side of the images the probes look at (default: 256)")
    p.add_argument("--n-estimators", type=positive_int, default=300,
                   help="trees of the shortcut baselines' forests; the probes get a third "
                        "(default: 300)")
    p.add_argument("--n-jobs", type=int, default=-1,
                   help="parallel jobs (default: -1, all CPU cores)")
    p.add_argument("--no-pictures", action="store_true", help="write no PNG files")
    p.set_defaults(func=run)


def run(args):
    import os

    from ..audit import audit_images, write_audit_report

    data = load_cli_data(args.data)
    check_out_outside(args.out, data_folders(args.data, data))
    result = audit_images(data.filenames, data.target, data.groups, controlled=args.controlled,
                          image_size=args.image_size, seeds=args.seeds,
                          n_estimators=args.n_estimators, n_jobs=args.n_jobs)
    written = write_audit_report(result, args.out, pictures=not args.no_pictures)
    for line in result.findings:
        print(f"- {line}")
    say(f"Audit of {result.n_images} images written to {os.path.join(args.out, 'report.md')} "
        f"({len(written)} files).")
    return 0
