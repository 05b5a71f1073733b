"""``skin-estimators evaluate MODEL DATA --out DIR``: score a model on labelled photos."""

import argparse

from ._common import (
    CommandError,
    add_backend_argument,
    add_model_arguments,
    atomic_open,
    check_out_outside,
    check_output_file,
    data_folders,
    load_cli_data,
    load_cli_model,
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
reliability.png shows the reliability diagrams before and after calibration. Macro averages
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
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="score a model on a labelled folder of photos (one folder per class)",
        description=DESCRIPTION, epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(p)
    add_backend_argument(p)
    p.add_argument("data", metavar="DATA",
                   help="folder with one sub-folder of images per class, or 'skin3'")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (created); not inside DATA, where the next run would "
                        "read its files as photos")
    p.add_argument("--tta", action="store_true",
                   help="average over each image and its left-right mirror image")
    p.add_argument("--batch-size", type=positive_int, default=16,
                   help="images decoded and predicted at a time (default: 16)")
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

    classes = result.classes
    trust = result.trust
    extra = [] if trust is None else ["prediction_set", "out_of_scope_score", "flag"]
    with open_csv(path) as f:  # file names that are not UTF-8 are kept byte for byte
        writer = csv.writer(f)
        writer.writerow(["image_path", "true_class", "pred_class",
                         *[f"proba_{c}" for c in classes], *extra, "error"])
        for i, path_i in enumerate(result.filenames):
            err = result.errors[i]
            probs = [""] * len(classes) if err else [f"{v:.6f}" for v in result.proba[i]]
            cells = []
            if trust is not None:
                score = trust.score[i]
                cells = ["", "", ""] if err else [
                    "|".join(str(c) for c in classes[trust.sets[i]]),
                    "" if score != score else f"{score:.6g}", str(trust.flags[i])]
            writer.writerow([path_i, result.y_true[i], result.y_pred[i], *probs, *cells,
                             err or ""])


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


def run(args):
    import os

    from ..audit import evaluate_model

    data = load_cli_data(args.data, groups=None)
    check_out_outside(args.out, data_folders(args.data, data))
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CommandError(f"--out {args.out!r} exists and is not a folder: give a folder",
                           code=2)
    for name in ("predictions.csv", "report.txt", "confusion_matrix.png", "reliability.png"):
        if os.path.isdir(args.out):
            check_output_file(os.path.join(args.out, name), [args.model, *data.filenames])
    model, meta = load_cli_model(args, with_metadata=True)
    seen = _training_photos(meta, data)
    if args.adapt:  # before anything is computed: a model that cannot be adapted stops here
        from ..adaptation import adapter_of

        if adapter_of(model) is None:
            raise CommandError("--adapt: this model has no adaptation step (DomainAdapter): "
                               "only models trained with one, as benchmarks/configs/best.yaml "
                               "trains, can be adapted", code=2)
    try:
        result = evaluate_model(model, data.filenames, data.target, batch_size=args.batch_size,
                                tta=args.tta, progress=not args.quiet)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    compared = _evaluate_adapted(args, model, data, result) if args.adapt else ""
    text = _write_results(args, result, seen, compared)
    print(text, end="")
    if result.n_errors:
        say(f"{result.n_errors} file(s) could not be read (see the error column of "
            f"{os.path.join(args.out, 'predictions.csv')}).")
    return 1 if result.n_errors else 0


def _evaluate_adapted(args, model, data, result):
    """Adapt to the readable photos' pixels, score again into DIR/adapted; the comparison."""
    import os

    from ..adaptation import adapter_of
    from ..audit import evaluate_model
    from .adapt import adapt_to_files

    files = [f for f, e in zip(data.filenames, result.errors, strict=True) if e is None]
    adapted = adapt_to_files(model, files, args.method)
    try:
        after = evaluate_model(adapted, data.filenames, data.target,
                               batch_size=args.batch_size, tta=args.tta,
                               progress=not args.quiet)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    out = os.path.join(args.out, "adapted")
    os.makedirs(out, exist_ok=True)
    _write_results(argparse.Namespace(**{**vars(args), "out": out}), after, "")
    adapter = adapter_of(adapted)
    line = lambda r: (f"macro recall {r.macro_recall:.3f}, accuracy {r.accuracy:.3f}"  # noqa: E731
                      + ("" if r.trust is None else ", " + ", ".join(
                          f"{flag} {share:.2f}" for flag, share in _flag_shares(r).items())))
    text = (f"\nWith and without adaptation ({adapter.method}, fitted on the pixels of these "
            f"{adapter.n_target_} photos, not their labels; files in {out}):\n"
            f"  without: {line(result)}\n  adapted: {line(after)}\n")
    return text


def _flag_shares(result):
    import numpy as np

    flags = np.asarray(result.trust.flags)[[e is None for e in result.errors]]
    return {flag: float(np.mean(flags == flag)) for flag in ("confident", "uncertain",
                                                             "out_of_scope")}


def _write_results(args, result, seen, compared=""):
    """predictions.csv, report.txt and the figures of one evaluation; the report's text.

    ``compared``: the with-and-without-adaptation lines, at the end of the report."""
    import os

    from . import _figures

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
    return text
