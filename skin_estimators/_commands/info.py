"""``skin-estimators info MODEL``: what a model file holds."""

import argparse

from ._common import add_model_arguments, load_cli_model

DESCRIPTION = """\
Show what a model file holds: its format, the architecture, the classes, the classifier's
parameters and number of trainable weights, the image size and normalisation it expects, the
library versions that saved it, and a hash of its training data (recorded by the 'train'
command; "unknown" for models saved from Python without it).
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "info", help="show a model file's classes, architecture, parameters and provenance",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  skin-estimators info runs/cnn/model.safetensors\n",
    )
    add_model_arguments(p)
    p.add_argument("--json", action="store_true", help="print the fields as JSON")
    p.set_defaults(func=run)


def _value(v):
    import inspect

    from .._internal import type_name

    if inspect.isclass(v) or inspect.isfunction(v):
        return type_name(v) or f"{v.__module__}.{v.__qualname__}"
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, tuple):
        return [_value(x) for x in v]
    return v


def model_info(model, meta):
    """The fields that ``info`` prints, as a dict of JSON-able values."""
    from sklearn.pipeline import Pipeline

    from .._internal import running_versions
    from ..inference import image_loader

    steps = [s for _, s in model.steps] if isinstance(model, Pipeline) else [model]
    clf = steps[-1]
    names = [type(s).__name__ for s in steps]
    module = getattr(clf, "module_", None)
    arch = " -> ".join(names)
    if module is not None:
        arch += f" (network: {type(module).__name__})"
    info = {"format": meta.get("format"), "architecture": arch}
    info["classes"] = [_value(c) for c in getattr(clf, "classes_", [])]
    params = clf.get_params(deep=False)
    if "estimators" in params and hasattr(clf, "estimators_"):  # an ensemble (soft vote)
        info["members"] = {name: _member(member) for (name, _), member
                           in zip(params["estimators"], clf.estimators_, strict=False)}
        params["estimators"] = [name for name, _ in params["estimators"]]
    info["parameters"] = {k: _value(v) for k, v in sorted(params.items())}
    if module is not None:
        info["trainable_parameters"] = sum(p.numel() for p in module.parameters()
                                           if p.requires_grad)
        info["total_parameters"] = sum(p.numel() for p in module.parameters())
    loader = image_loader(model)
    if loader is not None:
        size = loader.size if isinstance(loader.size, (tuple, list)) else (loader.size,) * 2
        info["image_size"] = f"{size[0]}x{size[1]} (height x width), resize={loader.resize}"
        if getattr(loader, "color_constancy", None):
            info["image_size"] += f", color_constancy={loader.color_constancy}"
    elif getattr(clf, "input_shape_", None) is not None:
        info["image_size"] = "x".join(map(str, clf.input_shape_[1:])) + " (network input)"
    for step in steps:
        if hasattr(step, "mean_") and hasattr(step, "std_"):
            info["normalization"] = {"mean": _value(step.mean_), "std": _value(step.std_)}
    if hasattr(clf, "quantiles_") and hasattr(clf, "cv_description_"):  # TrustedClassifier
        info["trust"] = {
            "confidence_level": clf.confidence_level,
            "prediction_sets": "per class (Mondrian)" if clf.mondrian else "marginal",
            "quantiles": _value(clf.quantiles_), "calibration": clf.calibration,
            "prevalence": clf.prevalence, "out_of_scope": clf.out_of_scope,
            "out_of_scope_threshold": clf.oos_threshold_,
            "false_alarm_rate": clf.false_alarm_rate,
            "fitted_on": (f"out-of-fold predictions of {clf.n_calibration_} images "
                          f"({clf.cv_description_})"),
            "sets_made_by": _sets_made_by(clf),
        }
        if getattr(clf, "n_negatives_", 0):  # a score that learned from other conditions
            info["trust"]["negatives"] = int(clf.n_negatives_)
    from ..adaptation import adaptation_info

    adaptation = adaptation_info(model)
    if adaptation is not None:
        info["adaptation"] = adaptation
    info["saved_with"] = meta.get("versions") or "unknown"
    info["running_with"] = running_versions()
    training = (meta.get("metadata") or {}).get("training") or {}
    info["training_data_sha256"] = training.get("data_sha256", "unknown")
    if training:
        info["training"] = {k: v for k, v in training.items() if k != "data_sha256"}
    return info


def _member(est):
    """One member of an ensemble in one line: its steps, a frozen backbone's or a net's name."""
    from sklearn.pipeline import Pipeline

    from ..preprocessing import PretrainedFeatures

    steps = [s for _, s in est.steps] if isinstance(est, Pipeline) else [est]
    parts = []
    for step in steps:
        detail = step.model if isinstance(step, PretrainedFeatures) else getattr(
            step, "variant", None)
        parts.append(type(step).__name__ + (f"({detail})" if isinstance(detail, str) else ""))
    return " -> ".join(parts)


def _sets_made_by(clf):
    """How a TrustedClassifier makes its prediction sets, in one line."""
    folds = getattr(clf, "estimators_", None)
    if getattr(clf, "conformal", "split") == "cross" and folds:
        return (f"cross-conformal: each of the {len(folds)} fold models against its own "
                "fold's out-of-fold scores (Vovk 2015)")
    return "split-conformal: out-of-fold quantiles applied to the refitted model"


def run(args):
    import json

    model, meta = load_cli_model(args, with_metadata=True)
    info = model_info(model, meta)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"file:                 {args.model}")
    print(f"format:               {info['format']}")
    print(f"architecture:         {info['architecture']}")
    print(f"classes:              {', '.join(map(str, info['classes']))}")
    if "trainable_parameters" in info:
        print(f"trainable parameters: {info['trainable_parameters']:,} "
              f"(of {info['total_parameters']:,})")
    for name, member in info.get("members", {}).items():
        print(f"  member {name}: {member}")
    print(f"image size:           {info.get('image_size', 'unknown')}")
    if "normalization" in info:
        fmt = lambda xs: "[" + ", ".join(f"{x:.4f}" for x in xs) + "]"  # noqa: E731
        norm = info["normalization"]
        print(f"normalization:        mean {fmt(norm['mean'])}, std {fmt(norm['std'])}")
    if "trust" in info:
        t = info["trust"]
        threshold = t["out_of_scope_threshold"]
        print(f"prediction sets:      confidence level {t['confidence_level']}, "
              f"{t['prediction_sets']}; calibration {t['calibration']} "
              f"(prevalence: {t['prevalence']})")
        print(f"out of scope:         {t['out_of_scope']}"
              + ("" if threshold is None else f", threshold {threshold:.6g} "
                 f"({t['false_alarm_rate']:.0%} in-scope false alarms)"))
        if t.get("negatives"):
            print(f"  learned from {t['negatives']} photos of other conditions (negatives)")
        print(f"  fitted on {t['fitted_on']}")
        print(f"  sets: {t['sets_made_by']}")
    if "adaptation" in info:
        print(f"adapted to:           {info['adaptation']['summary']}")
    print(f"training data hash:   {info['training_data_sha256']}")
    for key, value in info.get("training", {}).items():
        print(f"  {key}: {value}")
    print("parameters:")
    for key, value in info["parameters"].items():
        print(f"  {key} = {value!r}")
    saved = info["saved_with"]
    print("library versions (saved with / running):")
    if isinstance(saved, dict):
        for key, value in saved.items():
            print(f"  {key}: {value} / {info['running_with'].get(key, '?')}")
    else:
        print(f"  saved with: unknown; running: {info['running_with']}")
    return 0
