"""Declared parameter constraints: every estimator, transformer and callback declares what each
of its own parameters takes, and ``fit`` refuses a wrong type or an out-of-range value with one
line that names the estimator and the parameter, before anything is built or trained."""

import inspect
import numbers

import numpy as np
import pytest
from sklearn.base import BaseEstimator

import skin_estimators
from skin_estimators import ChannelNormalizer, ImageLoader, SkinNetClassifier
from skin_estimators.callbacks import WeightAveraging
from skin_estimators.experiments import load_config
from skin_estimators.experiments._registry import MODELS, resolve_model
from skin_estimators.networks import MLP
from skin_estimators.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    ParameterConstraintError,
    validate_constraints,
)

_OWN_PACKAGES = ("skin_estimators.classifiers", "skin_estimators.preprocessing",
                 "skin_estimators.callbacks", "skin_estimators.uncertainty")


def _library_classes():
    """Public estimator, transformer and callback classes of the packages that declare them."""
    from skorch.callbacks import Callback

    found = {}
    for module in (skin_estimators, skin_estimators.callbacks):
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) and obj.__module__.startswith(_OWN_PACKAGES)):
                continue
            if issubclass(obj, BaseEstimator | SkinNetClassifier | Callback):
                found[name] = obj
    return found


def _make(cls):
    if cls is SkinNetClassifier:
        return cls(MLP)
    if cls is skin_estimators.TrustedClassifier:
        from sklearn.linear_model import LogisticRegression

        return cls(LogisticRegression())
    return cls()


def _objects():
    """(id, object) for every registry entry (each step of a pipeline) and library class."""
    out = {}
    for name in MODELS:
        est = resolve_model(name)()
        for step_name, step in getattr(est, "steps", [(None, est)]):
            out[f"{name}:{type(step).__name__}" if step_name else name] = step
        if hasattr(est, "steps"):
            out[name] = est
    for name, cls in _library_classes().items():
        out.setdefault(name, _make(cls))
    return out


OBJECTS = _objects()


def test_the_discovery_finds_the_library_classes():
    names = set(_library_classes())
    assert {"SkinNetClassifier", "VanillaCNNClassifier", "ScatteringClassifier",
            "ResNet50Classifier", "BiTClassifier", "EfficientNetLiteClassifier", "ImageLoader",
            "ChannelNormalizer", "PretrainedFeatures", "ScatteringTransformer",
            "WeightAveraging"} <= names
    assert set(MODELS) <= set(OBJECTS)


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_constraints_cover_every_own_parameter(name):
    est = OBJECTS[name]
    # skorch's routed arguments (optimizer__momentum, ...) are not parameters of the net.
    own = {key for key in est.get_params(deep=False) if "__" not in key}
    declared = set(est._parameter_constraints)
    assert own - declared == set(), f"{name}: parameters without a declared constraint"
    assert declared - own == set(), f"{name}: constraints for parameters it does not have"
    validate_constraints(est)  # the defaults are valid


# ----------------------------------------------------------------------------- fit refuses
def _table():
    X = np.random.RandomState(0).randn(6, 3).astype(np.float32)
    return X, np.arange(6) % 2


def _images():
    X = np.random.RandomState(0).randn(4, 3, 16, 16).astype(np.float32)
    return X, np.arange(4) % 2


def _fit(est, params):
    """Fit a copy of ``est`` with ``params`` on data of the kind it takes; return the error."""
    if isinstance(est, WeightAveraging):
        est.set_params(**params)  # (skorch's Callback.set_params returns None)
        est = SkinNetClassifier(MLP, max_epochs=1, callbacks=[est])
        data = _table()
    else:
        est = est.set_params(**params)
        if isinstance(est, ImageLoader | ChannelNormalizer):
            data = (np.zeros((2, 8, 8, 3), np.uint8),)
        elif getattr(est, "_image_input", False) or type(est).__module__.startswith(
                "skin_estimators.preprocessing"):
            data = _images()[:1] if not hasattr(est, "predict") else _images()
        else:
            data = _table()
    with pytest.raises(ValueError) as info:
        est.fit(*data)
    return info.value


#: Values outside the range of parameters whose constraint is a predicate (no Interval).
_OUT_OF_RANGE = {
    ("ImageLoader", "size"): [0, 5000, (16, 0)], ("ImageLoader", "n_jobs"): [0],
    ("ScatteringTransformer", "pooling"): [0, (2, 0)],
    ("PretrainedFeatures", "stages"): [(7,), ()], ("PretrainedFeatures", "pretrained"): [""],
    ("ChannelNormalizer", "mean"): [[0.5, 0.5], [0.5, np.nan, 0.5]],
    ("ChannelNormalizer", "std"): [[0.5, 0.0, 0.5], -1.0],
    ("WeightAveraging", "start"): [1.5, 0.0],
    **{(name, "augment"): ["spin", ["hflip", "spin"]] for name in
       ("SkinNetClassifier", "VanillaCNNClassifier", "ScatteringClassifier",
        "ResNet50Classifier", "BiTClassifier", "EfficientNetLiteClassifier")},
}


def _out_of_range(constraints):
    """Values just outside each Interval and Options among ``constraints``."""
    values = []
    for c in constraints:
        if isinstance(c, Interval):
            step = 1 if c.type is numbers.Integral else 0.5
            if c.left is not None:
                values.append(c.left - step)
            if c.right is not None:
                values.append(c.right + step)
        elif isinstance(c, Options):
            values.append(max(c.options) + 1 if c.type is numbers.Integral else "no-such-option")
    return values


def _cases():
    cases = []
    for name, est in sorted(OBJECTS.items()):
        if hasattr(est, "steps"):
            continue  # a pipeline's steps are checked one by one
        for param, constraints in est._parameter_constraints.items():
            cases.append((name, param, "a bare object", object()))
            if any(isinstance(c, Interval) for c in constraints):
                cases.append((name, param, "a string", "3"))
            extra = _OUT_OF_RANGE.get((type(est).__name__, param), [])
            for value in _out_of_range(constraints) + extra:
                cases.append((name, param, "out of range", value))
    return cases


CASES = _cases()


@pytest.mark.parametrize("name, param, kind, value", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2].replace(' ', '_')}-{i}"
                              for i, c in enumerate(CASES)])
def test_a_wrong_value_is_one_line_naming_the_parameter(name, param, kind, value):
    est = OBJECTS[name]
    owner = type(est).__name__
    error = _fit(_fresh(est), {param: value})
    message = str(error)
    assert "\n" not in message
    assert isinstance(error, InvalidParameterError) and isinstance(error, TypeError)
    if type(est).__module__.startswith("skin_estimators"):
        assert message.startswith(f"{owner}: {param} must be "), message
        assert message.endswith("."), message
    else:  # a scikit-learn step of a registry pipeline: scikit-learn's own wording
        assert f"{param!r} parameter of {owner} must be" in message, message


def test_every_parameter_with_a_range_is_tested_out_of_range():
    tested = {(name, param) for name, param, kind, _ in CASES if kind == "out of range"}
    for name, est in OBJECTS.items():
        if hasattr(est, "steps"):
            continue
        for param, constraints in est._parameter_constraints.items():
            ranged = any(isinstance(c, Interval | Options) for c in constraints)
            if ranged or (type(est).__name__, param) in _OUT_OF_RANGE:
                assert (name, param) in tested


def _fresh(est):
    from sklearn.base import clone

    if isinstance(est, WeightAveraging):
        return WeightAveraging(**est.get_params())
    return clone(est)


# ----------------------------------------------------------------------------- the wrapper
def test_the_error_is_scikit_learns_and_carries_its_parts():
    with pytest.raises(ParameterConstraintError) as info:
        validate_constraints(SkinNetClassifier(MLP, lr=True))  # a bool is no learning rate
    error = info.value
    assert isinstance(error, InvalidParameterError | ValueError | TypeError)
    assert (error.owner, error.param, error.value) == ("SkinNetClassifier", "lr", True)
    assert str(error) == "SkinNetClassifier: lr must be a finite positive number, got True."


def test_a_numpy_value_is_accepted_and_shown_as_a_plain_number():
    validate_constraints(ImageLoader(size=np.int64(16), crop_bottom=np.float32(0.1)))
    with pytest.raises(ValueError, match=r"^ImageLoader: crop_bottom .*, got 1\.5\.$"):
        validate_constraints(ImageLoader(crop_bottom=np.float64(1.5)))


def test_parameters_without_a_constraint_are_left_to_their_own_checks():
    # skorch's routed arguments have no declared constraint; fit checks them for NaN.
    validate_constraints(SkinNetClassifier(MLP, optimizer__momentum=float("nan")))
    with pytest.raises(ValueError, match=r"^SkinNetClassifier: optimizer__momentum must be a "
                                         r"finite number, got nan\.$"):
        SkinNetClassifier(MLP, optimizer__momentum=float("nan")).fit(*_table())


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("model, params, key, says", [
    ("cnn", "{max_epochs: 0}", "models[0].params.max_epochs",
     "must be a positive integer (got 0)"),
    ("scattering", "{max_order: 3}", "models[0].params.max_order", "must be 1 or 2 (got 3)"),
    ("efficientnet_lite", "{variant: lite9}", "models[0].params.variant",
     "must be one of 'lite0', 'lite1', 'lite2' (got 'lite9')"),
    ("recommended", "{pretrainedfeatures__batch_size: 0}",
     "models[0].params.pretrainedfeatures__batch_size", "must be a positive integer (got 0)"),
    ("recommended", "{logisticregression__C: -1}", "models[0].params.logisticregression__C",
     "must be a float in the range (0.0, inf] (got -1)"),
])
def test_a_config_row_is_checked_with_the_estimators_constraints(tmp_path, model, params,
                                                                   key, says):
    from skin_estimators.experiments import ConfigError

    path = tmp_path / "bad.yaml"
    path.write_text(f"data: fetch_skin3\nmodels:\n  - name: {model}\n    params: {params}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: {key}: {says}"


def test_a_valid_config_row_passes(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("data: fetch_skin3\nmodels:\n  - name: cnn\n    params: {optimizer: Adam, "
                    "lr: 0.1, augment: [hflip, vflip], class_weight: null, batch_size: -1}\n"
                    "    grid: {max_epochs: [1, 2]}\n")
    assert load_config(path).models[0].params["batch_size"] == -1
