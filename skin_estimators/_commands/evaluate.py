"""``skin-estimators evaluate MODEL DATA --out DIR``: score a model on labelled photos."""

import argparse

from ._common import (
    TTA_HELP,
    CommandError,
    add_backend_argument,
    add_model_arguments,
    atomic_open,
    check_out_outside,
    check_output_file,
    data_folders,
    load_cli_data,
    load_cli_model,
    note_tta,
    open_csv,
    positive_int,
    say,
)
from .adapt import METHODS

DESCRIPTION = """\
Score a trained model on a labelled folder of photos (one sub-folder per class, named as the
model's classes), e.g. from another clinic: photos from another source do not share the
training set's shortcuts, so this is how to check what cross-validation cannot.

Writes into DIR: predictions.csv (one row per file: image_path, true_class, pred_class,
proba_<class>..., error), report.txt (macro recall, accuracy, per-class precision, recall =
sensitivity, specificity) and confusion_matrix.png, and prints the report. For a model with
trust parts (trained from a config with a trust: section) predictions.csv also has
prediction_set, out_of_scope_score and flag, report.txt a coverage table (coverage and set
size per class, classwise ECE before and after calibration, the share of each flag), and
reliability.png shows the reliability diagrams before and after calibration. The report then
leads with the operating point, the answers a clinic can act on: per class and overall, the
share of photos flagged confident and the accuracy among them, coverage and set size (also in
operating_point.csv). --out-of-scope-photos FOLDER adds the share of photos of other
conditions flagged confident, uncertain and out_of_scope (per sub-folder in
operating_point.csv, per photo in out_of_scope_predictions.csv). risk_coverage.png shows the
accuracy among answered photos against the share answered, as a threshold on the top
calibrated probability moves, with the operating point marked (for any model). report.html is the same on one
self-contained page (no network needed to open it): the headline figures, the confusion
matrix, the reliability diagram, and the misclassified photos (small, without their EXIF data;
keep the page as you keep the photos) with their true class, probabilities and set. Macro
averages
are over the classes DATA holds; the model's classes it lacks are named. A file that
cannot be read gets its reason in the error column and is left out of the scores. A class
folder the model does not know is an error. Class folders and images may be links (to
folders and files elsewhere): they are followed, as predict follows them.

When DATA holds exactly the photos and labels the model was trained on (the training data
hash that train stores), a warning says so, on stderr and at the top of report.txt: scores
on training photos say nothing about new ones. A partial overlap is not detected.

Exit status: 0 if every file was scored, 1 if any row has an error (or the run failed),
2 for a usage error.
"""

EXAMPLE = """\
example:
  skin-estimators evaluate runs/cnn/model.safetensors clinic_photos/ --out clinic_eval/
  skin-estimators evaluate runs/best/model.safetensors sd198 --out-of-scope-photos sd198_other \
      --out sd198_eval/
"""


#: The files one evaluation writes into DIR (and, with --adapt, into DIR/adapted), besides
#: the operating point's (``_operating.OUTPUT_FILES``).
OUTPUT_FILES = ("predictions.csv", "report.txt", "confusion_matrix.png", "reliability.png",
                "report.html")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="score a model on a labelled folder of photos (one folder per class)",
        description=DESCRIPTION, epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(p)
    add_backend_argument(p)
    p.add_argument("data", metavar="DATA",
                   help="folder with one sub-folder of images per class, 'skin3' or 'sd198' "
                        "(SD-198's photos of the three diseases: a yardstick)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (created); not inside DATA, where the next run would "
                        "read its files as photos")
    p.add_argument("--tta", action="store_true", help=TTA_HELP)
    p.add_argument("--batch-size", type=positive_int, default=16,
                   help="images decoded and predicted at a time (default: 16)")
    p.add_argument("--out-of-scope-photos", metavar="FOLDER",
                   help="photos of conditions the model was not trained on (searched "
                        "recursively, one sub-folder per condition or none), or "
                        "'sd198_other': also report the share of them flagged confident, "
                        "uncertain and out_of_scope (a model with trust parts)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--adapt", action="store_true",
                   help="also adapt the model to these photos' pixels (never their labels; "
                        "see 'skin-estimators adapt') and report with and without; the "
                        "adapted run's files go to DIR/adapted/")
    p.add_argument("--method", default=None, choices=METHODS,
                   help="the alignment of --adapt (default: the model's, standardize)")
    p.set_defaults(func=run)


def _write_csv(path, result):
    import csv

    from .._internal import csv_columns, csv_header, csv_row

    names = csv_columns(trusted=result.trust is not None, own=["true_class"])
    with open_csv(path) as f:  # file names that are not UTF-8 are kept byte for byte
        writer = csv.writer(f)
        writer.writerow(csv_header(names, result.classes))
        for record, truth in zip(result.predictions, result.y_true, strict=True):
            writer.writerow(csv_row(record, names, result.classes, {"true_class": truth}))


def _training_photos(meta, data):
    """A warning when DATA holds exactly the photos (and labels) the model was trained on."""
    from .._internal import data_hash

    training = (meta.get("metadata") or {}).get("training") or {}
    stored = training.get("data_sha256")
    if not stored:
        return ""
    try:
        same = data_hash(data.filenames, data.target) == stored
    except OSError:  # an unreadable file: it gets its own error row later
        return ""
    if not same:
        return ""
    message = ("Warning: these are the photos the model was trained on (the same contents and "
               "labels); its scores and coverage here say nothing about new photos.")
    say(message)
    return message


def _learned_negatives(meta, other):
    """A warning when the --out-of-scope-photos are exactly the negatives the model's
    out-of-scope score learned from: their flags then measure nothing."""
    from .._internal import data_hash

    training = (meta.get("metadata") or {}).get("training") or {}
    stored = (training.get("negatives") or {}).get("data_sha256")
    if other is None or not stored:
        return ""
    try:
        same = data_hash(other[0], ["other"] * len(other[0])) == stored
    except OSError:  # an unreadable file: it gets its own error row later
        return ""
    if not same:
        return ""
    message = ("Warning: the --out-of-scope-photos are the photos of other conditions the "
               "model's out-of-scope score learned from (its negatives); their flags here say "
               "nothing about new conditions: measure on conditions it never saw (see "
               "benchmarks/studies/out_of_scope_negatives.py, leave conditions out).")
    say(message)
    return message


def _html_report(args, model, meta, result, warning, headline=None):
    """DIR/report.html: the figures and pictures written, and the misclassified photos."""
    import os

    from ._report import model_summary
    from ._report_evaluate import headline_figures, operating_figures, write_evaluate_report

    summary = model_summary(args.model, model, meta)
    trusted = summary["trusted"]
    pictures = {}
    if result.n_errors < len(result.filenames):  # the figures of this run (none without photos)
        pictures["Confusion matrix"] = os.path.join(args.out, "confusion_matrix.png")
        if result.trust is not None:
            pictures["Reliability diagram"] = os.path.join(args.out, "reliability.png")
    write_evaluate_report(
        os.path.join(args.out, "report.html"), result, summary,
        operating_figures(headline) + headline_figures(result),
        pictures, warning=warning,
        threshold=None if trusted is None else trusted.oos_threshold_)


def run(args):
    import os

    from ..audit import evaluate_model
    from . import _operating

    data = load_cli_data(args.data, groups=None)
    check_out_outside(args.out, data_folders(args.data, data))
    other = None
    if args.out_of_scope_photos is not None:
        other = _operating.load_out_of_scope_photos(args.out_of_scope_photos)
        read = ([args.out_of_scope_photos] if os.path.isdir(args.out_of_scope_photos)
                else sorted({os.path.dirname(f) for f in other[0]}))
        check_out_outside(args.out, read, what="the --out-of-scope-photos folder")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CommandError(f"--out {args.out!r} exists and is not a folder: give a folder",
                           code=2)
    inputs = [args.model, *data.filenames, *(other[0] if other else [])]
    for folder in ([args.out, os.path.join(args.out, "adapted")] if args.adapt else [args.out]):
        for name in (*OUTPUT_FILES, *_operating.OUTPUT_FILES):
            if os.path.isdir(folder):
                check_output_file(os.path.join(folder, name), inputs)
    model, meta = load_cli_model(args, with_metadata=True)
    if other is not None:
        _operating.check_flags(model)
    note_tta(args, model)
    seen = "\n\n".join(m for m in (_training_photos(meta, data),
                                      _learned_negatives(meta, other)) if m)
    if args.adapt:  # before anything is computed: a model that cannot be adapted stops here
        from ._evaluate_adapted import check_adaptable

        check_adaptable(model)
    try:
        result = evaluate_model(model, data.filenames, data.target, batch_size=args.batch_size,
                                tta=args.tta, progress=not args.quiet)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    compared = ""
    if args.adapt:
        from ._evaluate_adapted import evaluate_adapted

        compared = evaluate_adapted(args, model, meta, data, result, other, write_results)
    text, n_other_errors = write_results(args, model, meta, result, seen, other, compared)
    print(text, end="")
    if result.n_errors:
        say(f"{result.n_errors} file(s) could not be read (see the error column of "
            f"{os.path.join(args.out, 'predictions.csv')}).")
    if n_other_errors:
        say(f"{n_other_errors} out-of-scope photo(s) could not be read (see the error column "
            f"of {os.path.join(args.out, 'out_of_scope_predictions.csv')}).")
    return 1 if result.n_errors or n_other_errors else 0


def write_results(args, model, meta, result, seen, other=None, compared=""):
    """Every file of one evaluation into ``args.out``; ``(report text, unreadable photos of
    other conditions)``.

    predictions.csv, report.txt (led by the operating point, ``compared`` at its end), the
    operating point's files, the figures and report.html.
    """
    import os

    from . import _figures, _operating

    os.makedirs(args.out, exist_ok=True)
    _write_csv(os.path.join(args.out, "predictions.csv"), result)
    n_ok = len(result.filenames) - result.n_errors
    absent = ""
    if n_ok and result.absent_classes:
        absent = (f"Classes of the model with no photo here, left out of every macro average "
                  f"(a photo predicted as one of them counts as an error): "
                  f"{', '.join(result.absent_classes)}.\n")
    text = (f"{n_ok} of {len(result.filenames)} photos scored; macro recall "
            f"{result.macro_recall:.3f}, accuracy {result.accuracy:.3f}.\n{absent}\n"
            f"{result.report}\n")
    if result.trust is not None and n_ok:
        from .._internal import coverage_table

        ok = [e is None for e in result.errors]
        counts = {c: int((result.y_true[ok] == c).sum()) for c in result.trust.coverage_per_class}
        text += "\n" + coverage_table(result.trust, counts)
    operating, n_other_errors, headline = _operating.operating_point_section(
        result, args.out, model, other, args.batch_size, args.tta, not args.quiet)
    if operating:  # the clinic decides on this: it leads
        text = operating + "\n" + text
    if seen:
        text = seen + "\n\n" + text
    text += compared
    with atomic_open(os.path.join(args.out, "report.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    if n_ok:
        ok = [e is None for e in result.errors]
        _figures.confusion_matrix(
            result.y_true[ok], result.y_pred[ok].astype(str), [str(c) for c in result.classes],
            os.path.join(args.out, "confusion_matrix.png"),
        )
        if result.trust is not None:
            from .._internal import reliability_figure

            reliability_figure(result.y_true[ok], result.trust.raw[ok], result.proba[ok],
                               [str(c) for c in result.classes],
                               os.path.join(args.out, "reliability.png"),
                               eces=(result.trust.ece_before, result.trust.ece_after))
    _html_report(args, model, meta, result, seen, headline)
    return text, n_other_errors
