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
config file (YAML; the experiment configs of 'skin-estimators cv' work as they are):
  data: fetch_skin3          # the study's images, or {path: folder}, relative to this file
  image_size: 400            # or [height, width]
  resize: stretch            # stretch | pad | crop
  normalization: auto        # auto | fold (learned) | study | imagenet | bit
  models:
    - name: cnn              # cnn | scattering | resnet50 | bit
      params: {lr: 0.0001, max_epochs: 26, batch_size: 4}

A config with several models or grid values has several rows: pick one with --model and/or
--row (the error lists them).

example:
  skin-estimators train --config cnn.yaml --out runs/cnn
"""

#: Model names of the configs -> (public estimator class, normalisation that "auto" means);
#: the same table as ``skin_estimators.experiments``.
MODELS = {
    "cnn": ("VanillaCNNClassifier", "fold"),
    "scattering": ("ScatteringClassifier", "fold"),
    "resnet50": ("ResNet50Classifier", "imagenet"),
    "bit": ("BiTClassifier", "bit"),
    "efficientnet_lite": ("EfficientNetLiteClassifier", "efficientnet_lite"),
}


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
    p.add_argument("--model", metavar="NAME", help="use the config's entry for this model")
    p.add_argument("--row", type=int, metavar="N",
                   help="use row N (0-based) of a config with several models or grid values")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value by dotted key, e.g. --set image_size=64 "
                        "--set models.0.params.max_epochs=5 (repeatable)")
    p.add_argument("--test-size", type=_test_size, default=0.2,
                   help="held-out share (0.2, the study's choice: scikit-learn rounds the test "
                        "set up, 21 of 102 images) or number of test images (20 reproduces the "
                        "study's 82/20); 0 fits on all the data (default: 0.2)")
    p.add_argument("--random-state", type=int, default=42,
                   help="seed of the split, and of the model unless its params set "
                        "random_state (default: 42)")
    p.add_argument("--format", choices=["safe", "joblib"], default="safe",
                   help="model file format (default: safe)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or epoch table")
    p.set_defaults(func=run)


def _load_train_config(path, overrides=(), model=None, row=None):
    """Read a YAML config and return the one setting to train, as a plain dict.

    Keys: ``data`` (``"skin3"`` or an absolute folder), ``images_per_class``, ``image_size``,
    ``resize``, ``normalization`` (None: learned; or a preset name), ``model``, ``params``,
    ``device``, ``threads``. The config schema is that of :mod:`skin_estimators.experiments`,
    whose loader does the validation where it is installed; otherwise a minimal reader of the
    same schema is used. This is the one place that knows the config format.
    """
    try:
        from .. import experiments
    except ImportError:
        experiments = None
    if getattr(experiments, "load_config", None) is not None:
        try:
            config = experiments.load_config(path, overrides=list(overrides) or None,
                                             models=[model] if model else None)
        except experiments.ConfigError as exc:
            raise CommandError(str(exc), code=2) from None
        rows = [(r.model, r.params, r.normalization) for r in config.rows()]
        data = "skin3" if config.data.fetch_skin3 else str(config.data_root())
        settings = {
            "data": data, "images_per_class": config.data.images_per_class,
            "image_size": config.image_size, "resize": config.resize,
            "device": config.device, "threads": config.threads,
        }
    else:
        settings, rows = _read_config_minimal(path, overrides, model)
    name, params, norm = _pick_row(path, rows, row)
    size = settings["image_size"]
    return {**settings, "image_size": tuple(size) if isinstance(size, list) else size,
            "model": name, "params": dict(params),
            "normalization": None if norm == "fold" else norm}


def _pick_row(path, rows, row):
    if row is None and len(rows) == 1:
        return rows[0]
    listing = "; ".join(f"{i}: {m} {p}" for i, (m, p, _) in enumerate(rows))
    if row is None:
        raise CommandError(
            f"config file {path!r} has {len(rows)} rows (models x grid values): {listing}. "
            "Train one of them with --row N (and/or --model NAME)", code=2)
    if not 0 <= row < len(rows):
        raise CommandError(f"--row {row} is out of range; config file {path!r} has "
                           f"{len(rows)} rows: {listing}", code=2)
    return rows[row]


_TOP_KEYS = {"name", "data", "image_size", "resize", "normalization", "cv", "device",
             "threads", "models"}
_MODEL_KEYS = {"name", "label", "normalization", "params", "grid", "reference"}
_NORMALIZATIONS = ("auto", "fold", "study", "imagenet", "bit", "efficientnet_lite")


def _read_config_minimal(path, overrides, model):
    """The experiment-config schema, read without its validator (``experiments`` absent)."""
    import itertools

    import yaml

    def bad(key, why):
        return CommandError(f"{path}: {key}: {why}", code=2)

    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except OSError as exc:
        raise CommandError(f"{path}: cannot read the config file ({exc.strerror or exc})",
                           code=2) from None
    except yaml.YAMLError as exc:
        raise CommandError(f"{path}: not valid YAML: {exc}", code=2) from None
    if not isinstance(raw, dict):
        raise bad("", "the top level must be a mapping of keys")
    if overrides:
        raise bad("--set", "overrides need skin_estimators.experiments, which is not installed")
    for key in raw:
        if key not in _TOP_KEYS:
            raise bad(key, f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
    data = raw.get("data")
    images_per_class = None
    if data == "fetch_skin3":
        data = "skin3"
    elif isinstance(data, dict) and isinstance(data.get("path"), str):
        images_per_class = data.get("images_per_class")
        data = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)),
                                             os.path.expanduser(data["path"])))
    else:
        raise bad("data", "must be 'fetch_skin3' or {path: folder with one sub-folder per class}")
    size = raw.get("image_size", 400)
    ok = (isinstance(size, int) and not isinstance(size, bool) and size > 0) or (
        isinstance(size, list) and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size))
    if not ok:
        raise bad("image_size", f"must be a positive integer or [height, width] (got {size!r})")
    resize = raw.get("resize", "stretch")
    if resize not in ("stretch", "pad", "crop"):
        raise bad("resize", f"must be stretch, pad or crop (got {resize!r})")
    top_norm = raw.get("normalization", "auto")
    entries = raw.get("models")
    if not isinstance(entries, list) or not entries:
        raise bad("models", "a list of at least one {name: ..., params: {...}} entry is required")
    rows = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise bad(f"models[{i}]", "must be a mapping")
        for key in entry:
            if key not in _MODEL_KEYS:
                raise bad(f"models[{i}].{key}", f"unknown key; allowed: {', '.join(sorted(_MODEL_KEYS))}")
        name = entry.get("name")
        if name not in MODELS:
            raise bad(f"models[{i}].name", f"unknown model {name!r}; one of {', '.join(MODELS)}")
        if model and name != model:
            continue
        norm = entry.get("normalization") or top_norm
        if norm not in _NORMALIZATIONS:
            raise bad("normalization", f"must be one of {', '.join(_NORMALIZATIONS)} (got {norm!r})")
        if norm == "auto":
            norm = MODELS[name][1]
        params, grid = entry.get("params") or {}, entry.get("grid") or {}
        for values in itertools.product(*grid.values()):
            rows.append((name, {**params, **dict(zip(grid, values, strict=True))}, norm))
    if not rows:
        raise bad("models", f"no entry for {model}")
    settings = {"data": data, "images_per_class": images_per_class,
                "image_size": size, "resize": resize,
                "device": raw.get("device", "auto"), "threads": raw.get("threads")}
    return settings, rows


def _classifier_class(name):
    import skin_estimators

    cls = getattr(skin_estimators, MODELS[name][0], None)
    if cls is None:
        raise CommandError(
            f"model {name!r} ({MODELS[name][0]}) is not available in this installation of "
            "skin-estimators", code=2)
    return cls


def build_pipeline(cfg, random_state, verbose):
    """The configured Pipeline (unfitted)."""
    from sklearn.pipeline import make_pipeline

    from ..preprocessing import ChannelNormalizer, ImageLoader

    params = dict(cfg["params"])
    params.setdefault("random_state", random_state)
    params.setdefault("device", cfg.get("device", "auto"))
    params["verbose"] = verbose
    clf = _classifier_class(cfg["model"])(**params)
    return make_pipeline(ImageLoader(size=cfg["image_size"], resize=cfg["resize"]),
                         ChannelNormalizer(cfg["normalization"]), clf)


def _load_data(cfg):
    """File names and labels; an evenly spread subset when ``images_per_class`` is set."""
    import numpy as np

    from .. import fetch_skin3, load_image_folder

    data = fetch_skin3() if cfg["data"] == "skin3" else load_image_folder(cfg["data"],
                                                                          groups=None)
    X, y = np.asarray(data.filenames), np.asarray(data.target)
    per_class = cfg.get("images_per_class")
    if per_class:
        keep = []
        for name in np.unique(y):
            idx = np.flatnonzero(y == name)
            if per_class < len(idx):
                idx = idx[np.unique(np.linspace(0, len(idx) - 1, per_class).round().astype(int))]
            keep.append(idx)
        keep = np.sort(np.concatenate(keep))
        X, y = X[keep], y[keep]
    return X, y


def data_hash(filenames, labels):
    """SHA-256 over the training images' contents and labels (independent of where they are)."""
    import hashlib

    lines = []
    for path, label in zip(filenames, labels, strict=True):
        with open(path, "rb") as f:
            lines.append(f"{hashlib.sha256(f.read()).hexdigest()}  {label}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def _config_as_run(cfg):
    """The trained setting as a config of the same schema: ``train --config`` reruns it."""
    data = "fetch_skin3" if cfg["data"] == "skin3" else {"path": cfg["data"]}
    if cfg.get("images_per_class") and isinstance(data, dict):
        data["images_per_class"] = cfg["images_per_class"]
    elif cfg.get("images_per_class"):
        data = {"fetch_skin3": True, "images_per_class": cfg["images_per_class"]}
    size = cfg["image_size"]
    out = {
        "data": data, "image_size": list(size) if isinstance(size, tuple) else size,
        "resize": cfg["resize"], "normalization": cfg["normalization"] or "fold",
        "device": cfg.get("device", "auto"),
    }
    if cfg.get("threads"):
        out["threads"] = cfg["threads"]
    out["models"] = [{"name": cfg["model"], "params": cfg["params"]}]
    return out


def run(args):
    import csv
    import datetime

    import numpy as np
    import yaml
    from sklearn.model_selection import train_test_split

    from .._persistence._safe import versions
    from ..metrics import clinical_report
    from ..persistence import save_model
    from . import _figures

    cfg = _load_train_config(args.config, args.overrides, args.model, args.row)
    if cfg.get("threads"):
        import torch

        torch.set_num_threads(cfg["threads"])
    X, y = _load_data(cfg)
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
        raise CommandError(f"config file {args.config!r}, model parameters: {exc}",
                           code=2) from None

    os.makedirs(args.out, exist_ok=True)
    say(f"Training {type(model[-1]).__name__} on {len(y_train)} images "
        f"({len(y_test)} held out) ...", quiet=args.quiet)
    model.fit(X_train, y_train)
    model[-1].verbose = cfg["params"].get("verbose", 0)  # the progress bar was for this run

    training = {
        "data": cfg["data"], "n_images": int(len(y_train)),
        "class_counts": {str(c): int(n) for c, n in
                         zip(*np.unique(y_train, return_counts=True), strict=True)},
        "data_sha256": data_hash(X_train, y_train),
        "test_size": args.test_size, "random_state": args.random_state,
    }
    as_run = _config_as_run(cfg)
    name = "model.safetensors" if args.format == "safe" else "model.joblib"
    save_model(model, os.path.join(args.out, name), format=args.format,
               metadata={"training": training, "config": as_run})

    finished = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    header = [
        f"The configuration as run by 'skin-estimators train' ({finished}); rerun it with",
        f"  skin-estimators train --config config.yaml --out DIR --test-size {args.test_size} "
        f"--random-state {args.random_state}",
        f"from: {os.path.abspath(args.config)}"
        + (f" (--model {args.model})" if args.model else "")
        + (f" (--row {args.row})" if args.row is not None else "")
        + "".join(f" (--set {o})" for o in args.overrides),
        f"split: {len(y_train)} training, {len(y_test)} test images; model file: {name}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
    ]
    with open(os.path.join(args.out, "config.yaml"), "w", encoding="utf-8") as f:
        f.write("".join(f"# {line}\n" for line in header))
        yaml.safe_dump(as_run, f, sort_keys=False)

    report_path = os.path.join(args.out, "report.txt")
    norm = cfg["normalization"] or "learned from the training images"
    header = (f"model: {cfg['model']} ({type(model[-1]).__name__}), "
              f"image size {cfg['image_size']}, resize {cfg['resize']}, normalization {norm}\n"
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
