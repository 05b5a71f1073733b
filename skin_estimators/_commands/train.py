"""``skin-estimators train --config FILE --out DIR``: fit a final model and report on a test split."""

import argparse
import os

from ._common import CommandError, say

DESCRIPTION = """\
Fit the configured pipeline (ImageLoader -> ChannelNormalizer -> classifier) on a stratified
training split and evaluate it on the held-out rest, as the study did for its final model.

Writes into DIR: the model file (model.safetensors, or model.joblib with --format joblib),
report.txt (classification report with sensitivity and specificity per class),
confusion_matrix.png, misclassified.csv (path, true, predicted, probability) with a contact
sheet misclassified.png, and config.yaml (the configuration as run). With --test-size 0 the
model is fitted on all the data and only the model file, report.txt and config.yaml are
written (there is nothing held out to evaluate on).
"""

EXAMPLE = """\
config file (YAML):
  data: skin3            # the study's images (fetch_skin3), or a class-per-folder directory
                         # (relative paths are relative to the config file)
  image_size: 400        # or [height, width]
  resize: stretch        # stretch | pad | crop
  normalization: null    # null: learned from the training images; imagenet | bit | study
  model: cnn             # cnn | scattering | resnet50 | bit
  params:                # the classifier's parameters
    lr: 0.0001
    max_epochs: 26
    batch_size: 4

example:
  skin-estimators train --config cnn.yaml --out runs/cnn
"""

#: Model names of the configs -> public estimator class names (looked up lazily: some
#: architectures are optional).
MODELS = {
    "cnn": "VanillaCNNClassifier",
    "scattering": "ScatteringClassifier",
    "resnet50": "ResNet50Classifier",
    "bit": "BiTClassifier",
}

_KEYS = {"data", "image_size", "resize", "normalization", "model", "params"}


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
        description=DESCRIPTION, epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, metavar="FILE", help="YAML configuration")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--test-size", type=_test_size, default=0.2,
                   help="held-out share (0.2, the study's choice: scikit-learn rounds the test "
                        "set up, 21 of 102 images) or number of test images (20 reproduces the "
                        "study's 82/20); 0 fits on all the data (default: 0.2)")
    p.add_argument("--random-state", type=int, default=42,
                   help="seed of the split, and of the model unless the config sets "
                        "params.random_state (default: 42)")
    p.add_argument("--format", choices=["safe", "joblib"], default="safe",
                   help="model file format (default: safe)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or epoch table")
    p.set_defaults(func=run)


def _load_train_config(path):
    """Read the YAML config: the model, its parameters, the data and the image handling.

    Returns a dict with ``data`` (``"skin3"`` or an absolute folder), ``image_size``,
    ``resize``, ``normalization``, ``model`` (a key of MODELS) and ``params``. The one place
    that knows the config format, so that it can later delegate to the experiment configs
    of ``skin_estimators.experiments``.
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except FileNotFoundError:
        raise CommandError(f"config file {path!r} not found", code=2) from None
    except (OSError, yaml.YAMLError) as exc:
        raise CommandError(f"config file {path!r} cannot be read: {exc}", code=2) from None
    if not isinstance(raw, dict):
        raise CommandError(f"config file {path!r} must hold a mapping of keys", code=2)

    def bad(key, why):
        return CommandError(f"config file {path!r}, key {key!r}: {why}", code=2)

    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise bad(unknown[0], f"unknown key; the keys are {sorted(_KEYS)}")
    if "model" not in raw:
        raise bad("model", f"missing; one of {sorted(MODELS)}")
    if raw["model"] not in MODELS:
        raise bad("model", f"unknown model {raw['model']!r}; one of {sorted(MODELS)}")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise bad("params", "must be a mapping of the classifier's parameters")
    size = raw.get("image_size", 400)
    if isinstance(size, list):
        size = tuple(size)
    ok_size = (isinstance(size, int) and size > 0) or (
        isinstance(size, tuple) and len(size) == 2 and all(isinstance(s, int) and s > 0
                                                             for s in size))
    if not ok_size or isinstance(size, bool):
        raise bad("image_size", f"must be a positive integer or [height, width], got {size!r}")
    resize = raw.get("resize", "stretch")
    if resize not in ("stretch", "pad", "crop"):
        raise bad("resize", f"must be stretch, pad or crop, got {resize!r}")
    data = raw.get("data", "skin3")
    if not isinstance(data, str):
        raise bad("data", f"must be 'skin3' or a folder path, got {data!r}")
    if data != "skin3":
        data = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)),
                                             os.path.expanduser(data)))
    return {"data": data, "image_size": size, "resize": resize,
            "normalization": raw.get("normalization"), "model": raw["model"],
            "params": dict(params)}


def _classifier_class(name):
    import skin_estimators

    cls = getattr(skin_estimators, MODELS[name], None)
    if cls is None:
        raise CommandError(
            f"model {name!r} ({MODELS[name]}) is not available in this installation of "
            "skin-estimators", code=2)
    return cls


def _make_normalizer(normalization):
    from ..preprocessing import ChannelNormalizer

    if normalization is None:
        return ChannelNormalizer()
    if isinstance(normalization, dict):
        return ChannelNormalizer(**normalization)
    return ChannelNormalizer(normalization)


def build_pipeline(cfg, random_state, verbose):
    """The configured Pipeline (unfitted)."""
    from sklearn.pipeline import make_pipeline

    from ..preprocessing import ImageLoader

    params = dict(cfg["params"])
    params.setdefault("random_state", random_state)
    params["verbose"] = verbose
    clf = _classifier_class(cfg["model"])(**params)
    return make_pipeline(ImageLoader(size=cfg["image_size"], resize=cfg["resize"]),
                         _make_normalizer(cfg["normalization"]), clf)


def _load_data(cfg):
    from .. import fetch_skin3, load_image_folder

    if cfg["data"] == "skin3":
        return fetch_skin3()
    return load_image_folder(cfg["data"], groups=None)


def data_hash(filenames, labels):
    """SHA-256 over the training images' contents and labels (independent of where they are)."""
    import hashlib

    lines = []
    for path, label in zip(filenames, labels, strict=True):
        with open(path, "rb") as f:
            lines.append(f"{hashlib.sha256(f.read()).hexdigest()}  {label}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def run(args):
    import datetime

    import numpy as np
    import yaml
    from sklearn.model_selection import train_test_split

    from ..metrics import clinical_report
    from ..persistence import save_model
    from . import _figures

    cfg = _load_train_config(args.config)
    data = _load_data(cfg)
    X, y = np.asarray(data.filenames), np.asarray(data.target)
    if args.test_size:
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=args.test_size, stratify=y, random_state=args.random_state)
        except ValueError as exc:
            raise CommandError(f"cannot split {len(y)} images with --test-size "
                               f"{args.test_size}: {exc}", code=2) from None
    else:
        X_train, y_train, X_test, y_test = X, y, X[:0], y[:0]
    try:
        model = build_pipeline(cfg, args.random_state, verbose=0 if args.quiet else 1)
    except TypeError as exc:
        raise CommandError(f"config file {args.config!r}, key 'params': {exc}", code=2) from None

    os.makedirs(args.out, exist_ok=True)
    say(f"Training {type(model[-1]).__name__} on {len(y_train)} images "
        f"({len(y_test)} held out) ...", quiet=args.quiet)
    model.fit(X_train, y_train)
    model[-1].verbose = cfg["params"].get("verbose", 0)  # the progress bar was for this run

    run_info = {
        "config_file": os.path.abspath(args.config), "test_size": args.test_size,
        "random_state": args.random_state, "format": args.format,
        "n_train": int(len(y_train)), "n_test": int(len(y_test)),
        "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    training = {
        "data": cfg["data"], "n_images": int(len(y_train)),
        "class_counts": {str(c): int(n) for c, n in zip(*np.unique(y_train, return_counts=True), strict=True)},
        "data_sha256": data_hash(X_train, y_train),
        "test_size": args.test_size, "random_state": args.random_state,
    }
    name = "model.safetensors" if args.format == "safe" else "model.joblib"
    save_model(model, os.path.join(args.out, name), format=args.format,
               metadata={"training": training, "config": _yaml_safe(cfg)})

    with open(os.path.join(args.out, "config.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({**_yaml_safe(cfg), "run": run_info}, f, sort_keys=False)

    report_path = os.path.join(args.out, "report.txt")
    header = (f"model: {cfg['model']} ({type(model[-1]).__name__}), "
              f"image size {cfg['image_size']}, resize {cfg['resize']}\n"
              f"data: {cfg['data']}; {len(y_train)} training images, {len(y_test)} test images "
              f"(--test-size {args.test_size}, --random-state {args.random_state})\n"
              f"training data sha256: {training['data_sha256']}\n\n")
    if not len(y_test):
        with open(report_path, "w", encoding="utf-8") as f:
            f.write(header + "No held-out test images (--test-size 0): nothing to evaluate.\n")
        say(f"Model and report written to {args.out}", quiet=args.quiet)
        return 0

    proba = model.predict_proba(X_test)
    classes = model[-1].classes_
    pred = classes[proba.argmax(axis=1)]
    report = clinical_report(y_test, pred, labels=classes)
    accuracy = float(np.mean(pred == y_test))
    with open(report_path, "w", encoding="utf-8") as f:
        f.write(header + f"accuracy on the test images: {accuracy:.3f}\n\n" + report)
    _figures.confusion_matrix(y_test, pred, classes, os.path.join(args.out, "confusion_matrix.png"))
    wrong = np.flatnonzero(pred != y_test)
    rows = [(X_test[i], y_test[i], pred[i], float(proba[i].max())) for i in wrong]
    import csv

    with open(os.path.join(args.out, "misclassified.csv"), "w", newline="",
              encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "true", "predicted", "probability"])
        writer.writerows([(p, t, q, f"{pr:.4f}") for p, t, q, pr in rows])
    _figures.contact_sheet(rows, os.path.join(args.out, "misclassified.png"))
    if not args.quiet:
        print(report)
    say(f"{len(wrong)} of {len(y_test)} test images misclassified; everything is in {args.out}",
        quiet=args.quiet)
    return 0


def _yaml_safe(cfg):
    out = dict(cfg)
    if isinstance(out["image_size"], tuple):
        out["image_size"] = list(out["image_size"])
    return out
