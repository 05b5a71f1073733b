"""``skin-estimators train --config FILE --out DIR``: fit a final model and report on a test split."""

import argparse
import os

from ._common import (
    CommandError,
    atomic_open,
    check_out_outside,
    check_output_file,
    config_data_folders,
    open_csv,
    say,
)

DESCRIPTION = """\
Fit the configured pipeline (ImageLoader -> ChannelNormalizer -> classifier) on a stratified
training split and evaluate it on the held-out rest.

Writes into DIR: the model file (model.safetensors, or model.joblib with --format joblib),
report.txt (classification report with sensitivity and specificity per class),
confusion_matrix.png, misclassified.csv (path, true, predicted, probability) with a contact
sheet misclassified.png, and config.yaml (the configuration as run). With --test-size 0 the
model is fitted on all the data and only the model file, report.txt and config.yaml are
written (there is nothing held out to evaluate on).
"""

EXAMPLE = """\
config file (YAML; the experiment configs of 'skin-estimators cv' work as they are):
  data: fetch_skin3          # the skin3 images, or {path: folder}, relative to this file
  image_size: 400            # or [height, width]
  resize: stretch            # stretch | pad | crop
  normalization: auto        # auto | fold (learned) | {presets}
  models:
    - name: cnn              # {models} | module:factory
      params: {lr: 0.0001, max_epochs: 26, batch_size: 4}

A config with several models or grid values has several rows: pick one with --model and/or
--row (the error lists them).

example:
  skin-estimators train --config cnn.yaml --out runs/cnn
"""

def _example():
    from .._internal import ARCHITECTURES
    from ..preprocessing import NORMALIZATION_PRESETS

    return (EXAMPLE.replace("{models}", " | ".join(ARCHITECTURES))
            .replace("{presets}", " | ".join(NORMALIZATION_PRESETS)))


def _test_size(text):
    """argparse type: a fraction in [0, 1) or a whole number of test images."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value.is_integer() and value >= 1:
        return int(value)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction in [0, 1) or a number of images >= 1, got {text}")
    return value


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="fit a final model on a stratified split and report on the test images",
        description=DESCRIPTION, epilog=_example(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, metavar="FILE", help="YAML configuration")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--model", metavar="NAME", help="use the config's entry for this model")
    p.add_argument("--row", type=int, metavar="N",
                   help="use row N (0-based) of a config with several models or grid values")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value by dotted key, e.g. --set image_size=64 "
                        "--set models.0.params.max_epochs=5 (repeatable)")
    p.add_argument("--test-size", type=_test_size, default=0.2,
                   help="held-out share (0.2: scikit-learn rounds the test set up, 21 of 102 "
                        "images) or number of test images (20 gives skin3's published 82/20 "
                        "split); 0 fits on all the data (default: 0.2)")
    p.add_argument("--random-state", type=int, default=42,
                   help="seed of the split, and of the model unless its params set "
                        "random_state (default: 42)")
    p.add_argument("--format", choices=["safe", "joblib"], default="safe",
                   help="model file format (default: safe)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or epoch table")
    p.add_argument("--controlled", action=argparse.BooleanOptionalAction, default=None,
                   help="train on controlled inputs (watermark band cut, common pixel scale, "
                        "centre square), as the controlled protocol evaluates; default: when "
                        "the config's cv.protocol is controlled or all")
    p.add_argument("--allow-import", action="store_true",
                   help="accept model names that are import paths outside skin_estimators "
                        "('package.module:Class'); importing runs that code, so only use it "
                        "for configs you trust")
    p.set_defaults(func=run)


def run(args):
    from .._internal import FolderLock
    from ..experiments import fit_final, load_config, select_row
    from ..persistence import save_model

    # A bad config raises ConfigError: cli.main reports it in one line, exit code 2.
    config = load_config(args.config, overrides=args.overrides or None,
                         models=[args.model] if args.model else None,
                         allow_import=args.allow_import)
    row = select_row(config, args.row)
    # What train writes inside the data folder would be read as data by every later run.
    check_out_outside(args.out, config_data_folders(config))
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CommandError(f"--out {args.out!r} exists and is not a folder: give a folder",
                           code=2)
    if os.path.isdir(args.out):  # what train writes must never replace its config
        for name in ("config.yaml", "report.txt", "model.safetensors", "model.joblib"):
            check_output_file(os.path.join(args.out, name), [args.config])
        with FolderLock(args.out):  # a folder another run writes to is refused before the fit
            pass
    # fit_final says what it trains on (images per class, held-out count) unless quiet.
    final = fit_final(config, row, args.test_size, random_state=args.random_state,
                      verbose=0 if args.quiet else 1, controlled=args.controlled)
    # Made only now: a fit that fails leaves no empty output folder behind.
    os.makedirs(args.out, exist_ok=True)
    # Held while writing: two runs into one folder would leave a mix of their files.
    with FolderLock(args.out):
        name = "model.safetensors" if args.format == "safe" else "model.joblib"
        save_model(final.model, os.path.join(args.out, name), format=args.format,
                   metadata={"training": final.training, "config": final.config})
        _write_config(args, final, name)
        return _write_report(args, final)


def _write_config(args, final, model_name):
    """config.yaml: the setting as run, with a header saying how to rerun it."""
    import datetime

    import yaml

    from .._internal import running_versions as versions

    finished = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    header = [
        f"The configuration as run by 'skin-estimators train' ({finished}); rerun it with",
        f"  skin-estimators train --config config.yaml --out DIR --test-size {args.test_size} "
        f"--random-state {args.random_state}",
        f"from: {os.path.abspath(args.config)}"
        + (f" (--model {args.model})" if args.model else "")
        + (f" (--row {args.row})" if args.row is not None else "")
        + "".join(f" (--set {o})" for o in args.overrides),
        f"split: {len(final.y_train)} training, {len(final.y_test)} test images; "
        f"model file: {model_name}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
    ]
    with atomic_open(os.path.join(args.out, "config.yaml"), "w", encoding="utf-8") as f:
        f.write("".join(f"# {line}\n" for line in header))
        yaml.safe_dump(final.config, f, sort_keys=False)


def _inputs(loader):
    """How the images reach the model, as the fitted ImageLoader says (controlled or not)."""
    p = loader.get_params()
    color = f", colour constancy {p['color_constancy']}" if p.get("color_constancy") else ""
    if p.get("crop_bottom") or p.get("common_scale"):
        return (f"controlled inputs (bottom {p['crop_bottom']:.0%} cut, shorter side "
                f"{p['common_scale']} px, resize {p['resize']}{color})")
    return f"resize {p['resize']}{color}"


def _write_report(args, final):
    """report.txt, and with held-out images the confusion matrix and the misclassified ones."""
    import csv

    import numpy as np

    from ..metrics import clinical_report
    from . import _figures

    model, row, training = final.model, final.row, final.training
    X_test, y_test = final.X_test, final.y_test
    report_path = os.path.join(args.out, "report.txt")
    norm = "learned from the training images" if row.normalization == "fold" else row.normalization
    header = (f"model: {row.model} ({type(model[-1]).__name__}), "
              f"image size {row.image_size}, {_inputs(model[0])}, normalization {norm}\n"
              f"data: {training['data']}; {len(final.y_train)} training images, "
              f"{len(y_test)} test images "
              f"(--test-size {args.test_size}, --random-state {args.random_state})\n"
              f"training data sha256: {training['data_sha256']}\n\n")
    if not len(y_test):
        with atomic_open(report_path, "w", encoding="utf-8") as f:
            f.write(header + "No held-out test images (--test-size 0): nothing to evaluate.\n")
        say(f"Model and report written to {args.out}", quiet=args.quiet)
        return 0

    proba = model.predict_proba(X_test)
    classes = model[-1].classes_
    pred = classes[proba.argmax(axis=1)]
    report = clinical_report(y_test, pred, labels=classes)
    accuracy = float(np.mean(pred == y_test))
    with atomic_open(report_path, "w", encoding="utf-8") as f:
        f.write(header + f"accuracy on the test images: {accuracy:.3f}\n\n" + report)
    _figures.confusion_matrix(y_test, pred, classes, os.path.join(args.out, "confusion_matrix.png"))
    wrong = np.flatnonzero(pred != y_test)
    rows = [(X_test[i], y_test[i], pred[i], float(proba[i].max())) for i in wrong]
    with open_csv(os.path.join(args.out, "misclassified.csv")) as f:
        writer = csv.writer(f)
        writer.writerow(["path", "true", "predicted", "probability"])
        writer.writerows([(p, t, q, f"{pr:.4f}") for p, t, q, pr in rows])
    _figures.contact_sheet(rows, os.path.join(args.out, "misclassified.png"))
    if not args.quiet:
        print(report)
    say(f"{len(wrong)} of {len(y_test)} test images misclassified; everything is in {args.out}",
        quiet=args.quiet)
    return 0
