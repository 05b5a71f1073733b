"""``skin-estimators predict MODEL PATH... --out predictions.csv``: classify image files."""

import argparse

from ._common import (
    TTA_HELP,
    CommandError,
    add_backend_argument,
    add_model_arguments,
    check_out_outside,
    check_output_file,
    collect_files,
    load_cli_model,
    note_tta,
    open_csv,
    positive_int,
    say,
)

DESCRIPTION = """\
Predict the class of every image file given, or found (recursively) in the folders given.
Links to folders and files are followed, as evaluate and train follow linked class folders;
each folder is searched once, so a link loop ends.

The CSV has one row per input file, always: image_path, pred_class, one probability column
per class (proba_<class>) and error. A file that cannot be read as an image (corrupt,
truncated, not an image) gets its reason in the error column and no prediction; the others
are still predicted. Hidden files (names starting with '.') inside folders are skipped. The
CSV is written to a temporary file and renamed at the end, so it is never left half-written,
and never over an input (the model file or an image). File names that are not valid UTF-8
are written byte for byte (see the command-line guide).

--report FILE also writes one self-contained HTML page (it opens from disk, with no network):
a summary of the batch and the model, then every photo as a thumbnail with its predicted
class, prediction set, calibrated probabilities and out-of-scope score, grouped by flag
(out_of_scope, uncertain, confident), and the unreadable files with their reason. The page
holds the patient photos (small, without their EXIF data): keep it as you keep them. It is
written as the CSV is: atomically, never over an input, never inside a folder given as PATH.
--explain adds each in-scope photo's saliency overlay for its top class to the report, as
the explain command draws it (Grad-CAM for the convolutional networks); network models only.

Exit status: 0 if every file was predicted, 1 if any row has an error (or the run failed),
2 for a usage error.
"""

EXAMPLE = """\
example:
  skin-estimators predict runs/cnn/model.safetensors new_photos/ --out predictions.csv
  skin-estimators predict runs/best/model.safetensors new_photos/ --report report.html
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "predict", help="predict the class of image files or folders into a CSV",
        description=DESCRIPTION, epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(p)
    add_backend_argument(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--out", default="predictions.csv",
                   help="CSV file to write (default: predictions.csv); not inside a folder "
                        "given as PATH, where the next run would read it as an image")
    p.add_argument("--tta", action="store_true", help=TTA_HELP)
    p.add_argument("--batch-size", type=positive_int, default=16,
                   help="images decoded and predicted at a time (default: 16)")
    p.add_argument("--report", metavar="FILE", default=None,
                   help="also write a self-contained HTML report of the photos, grouped by "
                        "flag (it holds the photos: keep it as you keep them)")
    p.add_argument("--explain", action="store_true",
                   help="with --report: add each in-scope photo's saliency overlay (Grad-CAM; "
                        "network models only)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def _check_report(args, files):
    """The guards of --out, for --report too; and --explain needs --report."""
    import os

    if args.explain and args.report is None:
        raise CommandError("--explain draws its overlays into the HTML report: give "
                           "--report FILE too", code=2)
    if args.report is None:
        return
    check_output_file(args.report, [args.model, *files], option="--report")
    check_out_outside(args.report, [p for p in args.paths if os.path.isdir(p)],
                      option="--report", what="the folder given as PATH")
    if os.path.realpath(args.report) == os.path.realpath(args.out):
        raise CommandError(f"--report {args.report!r} is the --out file: the report would "
                           "replace the CSV; give another file name", code=2)


def run(args):
    import csv
    import os

    from .._internal import (
        csv_columns,
        csv_header,
        csv_row,
        iter_predictions,
        prediction_pipeline,
    )

    files = collect_files(args.paths)
    check_output_file(args.out, [args.model, *files])
    check_out_outside(args.out, [p for p in args.paths if os.path.isdir(p)],
                      what="the folder given as PATH")
    _check_report(args, files)
    if not files:
        raise CommandError("no files to predict: the folders given are empty")
    model, meta = load_cli_model(args, with_metadata=True)
    if args.explain:
        from ._report_explain import explain_unsupported

        reason = explain_unsupported(model)
        if reason:
            raise CommandError(f"--explain: {reason}", code=2)
    note_tta(args, model)
    loaded = model
    try:
        # one pass gives the probabilities and the trust parts of every photo
        model = prediction_pipeline(model)
        records = list(iter_predictions(model, files, batch_size=args.batch_size,
                                        tta=args.tta, progress=not args.quiet))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    classes = model[-1].classes_
    # Every column of the records; a model without trust parts leaves theirs empty.
    names = csv_columns()
    with open_csv(args.out) as f:
        writer = csv.writer(f)
        writer.writerow(csv_header(names, classes))
        for record in records:
            writer.writerow(csv_row(record, names, classes))
    if args.report is not None:
        from ._report_predict import report_from_predictions

        report_from_predictions(args, loaded, meta, records, classes)
    n_bad = sum(r.error is not None for r in records)
    say(f"Predicted {len(files) - n_bad} of {len(files)} files into {args.out}"
        + (f"; {n_bad} could not be read (see the error column)." if n_bad else "."),
        quiet=args.quiet)
    return 1 if n_bad else 0
