"""Load-time consistency of a safe model file: what its description may say, and what not.

The digest of a safe file catches damage, not intent: whoever can edit a file can recompute
it. So every estimator a file describes is checked while it is built, before anything can
predict with it:

- the description has the form the writer gives it (a class, parameters, fitted attributes;
  a network's classes and weights; a pipeline's named steps);
- every float among the parameters and fitted attributes is finite, and a ``device`` is one
  a model can run on;
- every fitted array has the type and shape its estimator implies: ``classes_`` unique,
  sorted, one-dimensional, all strings or all integers, one coefficient row per class (one
  for two classes), intercepts, scaler and normaliser statistics of the right sizes,
  ``n_features_in_`` matching the arrays and the step before;
- a pipeline has steps, and its last one is a classifier.

Each check raises :class:`InconsistentModelError` (a ValueError) naming the field
(``model['logisticregression'].coef_``); the loader adds the file's name.
"""

import numbers

import numpy as np

from ._codec import InconsistentModelError, check_device_name
from ._consistency_adapter import check_adapter
from ._consistency_features import check_pretrained_features
from ._consistency_trust import check_trusted
from ._fitted import check_fitted_names
from ._voting import VOTING

__all__ = ["InconsistentModelError", "check_built", "check_classes", "check_finite",
           "check_net", "check_params", "check_pipeline", "check_spec"]

_Error = InconsistentModelError  # what every check raises
#: The classes whose description may hold fold models (``estimators``), and how many.
FOLD_MODELS = ("skin_estimators.TrustedClassifier",)
_MAX_FOLDS = 100


def _is_net_class(cls):
    import sys

    # A class of the skorch base exists only once its module is imported: asking about a
    # scikit-learn or preprocessing class must not import PyTorch.
    base = sys.modules.get("skin_estimators.classifiers._base")
    return base is not None and isinstance(cls, type) and issubclass(cls, base.SkinNetClassifier)


# ------------------------------------------------------------------ the description's form
def check_spec(spec, name, cls, where):
    """The form of one estimator's description (before anything is built from it).

    ``name`` is the allow-listed name the description gives, ``cls`` its class.
    """
    if not isinstance(spec, dict):
        raise _Error(f"{where} is not an estimator description")
    if not isinstance(spec.get("params"), dict):
        raise _Error(f"{where}.params is missing or not a mapping of parameters")
    from sklearn.pipeline import Pipeline

    short = cls.__name__
    if ("members" in spec) != (name == VOTING):
        raise _Error(f"{where} is a {short}, which " + (
            "has no members" if "members" in spec else "needs its members"))
    if "estimators" in spec:
        folds = spec["estimators"]
        if name not in FOLD_MODELS:
            raise _Error(f"{where} is a {short}, which keeps no fold models")
        if not (isinstance(folds, list) and 1 <= len(folds) <= _MAX_FOLDS):
            raise _Error(f"{where}.estimators is not a list of 1 to {_MAX_FOLDS} fold models")
    if cls is Pipeline:
        steps = spec.get("steps")
        if not isinstance(steps, list) or not steps:
            raise _Error(f"{where}.steps: a pipeline needs at least one step, the last "
                             "one a classifier")
        names = []
        for step in steps:
            if not (isinstance(step, list) and len(step) == 2 and isinstance(step[0], str)):
                raise _Error(f"{where}.steps: each step is a [name, estimator] pair")
            names.append(step[0])
        if len(set(names)) != len(names):
            raise _Error(f"{where}.steps: the step names {names} are not unique")
        return
    if "steps" in spec:
        raise _Error(f"{where} is a {short}, which has no steps")
    fitted = spec.get("fitted", {})
    if not isinstance(fitted, dict):
        raise _Error(f"{where}.fitted is not a mapping of fitted attributes")
    if _is_net_class(cls):
        if "classes" not in spec or not isinstance(spec.get("modules"), dict) \
                or not spec["modules"]:
            raise _Error(f"{where} is a {short} without its classes and trained network")
        for module, key in spec["modules"].items():
            if module not in ("module",) or not isinstance(key, str):
                raise _Error(f"{where}.modules: {module!r:.40} is not a network of {short}")
    else:
        for key in ("classes", "modules", "history"):
            if key in spec:
                raise _Error(f"{where} is a {short}, which has no {key} of a network")
    if "estimator" in spec and "estimator" not in _init_params(cls):
        raise _Error(f"{where} is a {short}, which wraps no estimator")
    frozen = spec.get("frozen_modules")
    if frozen is not None and not (isinstance(frozen, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in frozen.items())):
        raise _Error(f"{where}.frozen_modules is not a mapping of network names")
    check_fitted_names(name, fitted, where)


def _init_params(cls):
    import inspect

    return inspect.signature(cls.__init__).parameters


# ------------------------------------------------------------------ parameters
def check_params(params, where, cls=None):
    """Every float parameter finite; a ``device`` parameter one a model can run on; and,
    given the estimator's class ``cls``, every parameter within the constraints that the
    class declares (``_parameter_constraints``, the very ones its ``fit`` checks)."""
    for key, value in params.items():
        check_finite(value, f"{where} parameter {key}")
    if cls is not None:
        _check_declared(cls, params, where)
    if "device" in params:
        device = params["device"]
        if isinstance(device, str) and device != "auto":
            check_device_name(device, f"{where} parameter device")
        elif not (device is None or isinstance(device, str) or _is_torch_device(device)):
            raise _Error(f"{where} parameter device = {device!r:.40} is not a device")


def _check_declared(cls, params, where):
    """``params`` against ``cls._parameter_constraints`` (the library's estimators and
    scikit-learn's declare them): a value that ``fit`` would refuse is refused at load."""
    from ..utils._param_validation import ParameterConstraintError, validate_constraints

    try:
        validate_constraints(cls, params, owner=cls.__name__)
    except ParameterConstraintError as exc:
        raise _Error(f"{where} parameter {exc.param} {exc.problem}") from None


def _is_torch_device(value):
    import sys

    torch = sys.modules.get("torch")  # a torch.device exists only once torch is imported
    return torch is not None and isinstance(value, torch.device)


def check_finite(value, where, _seen=0):
    """Raise ValueError if ``value`` holds a NaN or an infinite float (anywhere inside it)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, numbers.Real):
        if not np.isfinite(float(value)):
            raise _Error(f"{where} is {value!r}, not a finite number")
        return
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            bad = float(value[~np.isfinite(value)].ravel()[0])
            raise _Error(f"{where} holds {bad!r} ({(~np.isfinite(value)).sum()} of "
                             f"{value.size} values are not finite numbers)")
        if value.dtype.kind == "O":
            for item in value.ravel():
                check_finite(item, where)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            check_finite(item, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, f"{where}[{key!r}]")
    elif hasattr(value, "get_params") and not isinstance(value, type):  # a callback
        for key, item in value.get_params(deep=False).items():
            check_finite(item, f"{where}.{key}")


# ------------------------------------------------------------------ fitted estimators
def check_classes(classes, where):
    """Class labels: a sorted 1-D array of unique strings or of unique integers."""
    if not isinstance(classes, np.ndarray) or classes.ndim != 1:
        raise _Error(f"{where} is not a one-dimensional array of class labels")
    if len(classes) < 2:
        raise _Error(f"{where} holds {len(classes)} class(es); a classifier has at least 2")
    kind = classes.dtype.kind
    if kind == "O":
        if all(isinstance(c, str) for c in classes):
            kind = "U"
        elif all(isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in classes):
            kind = "i"
        else:
            raise _Error(f"{where} = {classes.tolist()!r:.80} mixes labels of different "
                             "types; class labels are all strings or all integers")
    elif kind == "f":
        # A classifier fitted on float labels keeps them as floats; they are whole numbers.
        if not (np.isfinite(classes).all() and (classes == np.round(classes)).all()):
            raise _Error(f"{where} = {classes.tolist()!r:.80}: class labels are strings "
                             "or whole numbers")
    elif kind not in "Uiub":
        raise _Error(f"{where} has dtype {classes.dtype}; class labels are strings or "
                         "integers")
    values = classes.tolist()
    if len(set(values)) != len(values):
        raise _Error(f"{where} = {values!r:.80} names a class more than once")
    if values != sorted(values):
        raise _Error(f"{where} = {values!r:.80} is not sorted, as a fitted classifier's "
                         "classes are")
    return len(values)


def _positive_int(value, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise _Error(f"{where} = {value!r:.40} is not a positive integer")
    return int(value)


def _float_array(value, where, shape, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise _Error(f"{where} is not an array of floats")
    if value.shape != tuple(shape):
        raise _Error(f"{where} has shape {value.shape}; {shape} expected")
    return value


def check_built(name, est, where):
    """Check a built (non-pipeline) estimator's fitted attributes against each other.

    ``name`` is its allow-listed class name; the attributes were checked to be finite as
    they were decoded, a network's by :func:`check_net` before it was built.
    """
    check = _CHECKS.get(name)
    if check is not None:
        check(est, where)


def check_net(est, where):
    """A skorch classifier's classes and fitted shapes, checked before its network is built."""
    n_classes = check_classes(est.classes_, f"{where}.classes_")
    shape = est.input_shape_
    if not (isinstance(shape, tuple) and 1 <= len(shape) <= 3):
        raise _Error(f"{where}.input_shape_ = {shape!r:.40} is not the shape of one input")
    for size in shape:
        _positive_int(size, f"{where}.input_shape_")
    n_in = getattr(est, "n_features_in_", None)
    if n_in is not None and _positive_int(n_in, f"{where}.n_features_in_") != shape[0]:
        raise _Error(f"{where}.n_features_in_ = {n_in} does not match input_shape_ {shape}")
    weight = getattr(est, "class_weight_", None)
    if weight is not None:
        _float_array(weight, f"{where}.class_weight_", (n_classes,))
        if (weight < 0).any():
            raise _Error(f"{where}.class_weight_ holds a negative weight")
    inferred = getattr(est, "classes_inferred_", None)
    if inferred is not None and not (isinstance(inferred, np.ndarray) and inferred.ndim == 1
                                     and len(inferred) <= n_classes):
        raise _Error(f"{where}.classes_inferred_ does not match classes_")
    if getattr(est, "grad_scaler_", None) is not None:
        raise _Error(f"{where}.grad_scaler_ is not stored in model files")
    n_out = est.get_params(deep=False).get("module__n_classes")
    if n_out is not None and n_out != n_classes:
        raise _Error(f"{where} parameter module__n_classes = {n_out!r:.20} does not match "
                         f"the {n_classes} classes in classes_")


def _check_channel_normalizer(est, where):
    _float_array(est.mean_, f"{where}.mean_", (3,))
    std = _float_array(est.std_, f"{where}.std_", (3,))
    if not (std > 0).all():
        raise _Error(f"{where}.std_ = {std.tolist()} is not positive for every channel")
    n_in = getattr(est, "n_features_in_", None)
    if n_in is not None and n_in != 3:
        raise _Error(f"{where}.n_features_in_ = {n_in!r:.20}; a colour image has 3 channels")


def _check_standard_scaler(est, where):
    n = _positive_int(est.n_features_in_, f"{where}.n_features_in_")
    _float_array(est.mean_, f"{where}.mean_", (n,), allow_none=not est.with_mean)
    scale = _float_array(est.scale_, f"{where}.scale_", (n,), allow_none=not est.with_std)
    if scale is not None and not (scale > 0).all():
        raise _Error(f"{where}.scale_ is not positive for every feature")
    var = _float_array(getattr(est, "var_", None), f"{where}.var_", (n,), allow_none=True)
    if var is not None and (var < 0).any():
        raise _Error(f"{where}.var_ holds a negative variance")
    _check_feature_names(est, n, where)


def _check_logistic_regression(est, where):
    n_classes = check_classes(est.classes_, f"{where}.classes_")
    n = _positive_int(est.n_features_in_, f"{where}.n_features_in_")
    rows = 1 if n_classes == 2 else n_classes
    coef = est.coef_
    if not isinstance(coef, np.ndarray) or coef.dtype.kind != "f" or coef.ndim != 2:
        raise _Error(f"{where}.coef_ is not a 2-D array of floats")
    if coef.shape[0] != rows:
        raise _Error(f"{where}.coef_ has {coef.shape[0]} row(s) for the {n_classes} "
                         f"classes in classes_; {rows} expected")
    if coef.shape[1] != n:
        raise _Error(f"{where}.coef_ has {coef.shape[1]} columns for n_features_in_ = {n}")
    _float_array(est.intercept_, f"{where}.intercept_", (rows,))
    n_iter = getattr(est, "n_iter_", None)
    if n_iter is not None and not (isinstance(n_iter, np.ndarray) and n_iter.dtype.kind in "iu"):
        raise _Error(f"{where}.n_iter_ is not an array of iteration counts")
    _check_feature_names(est, n, where)


def _check_feature_names(est, n, where):
    names = getattr(est, "feature_names_in_", None)
    if names is not None and not (isinstance(names, np.ndarray) and names.shape == (n,)
                                  and all(isinstance(x, str) for x in names.tolist())):
        raise _Error(f"{where}.feature_names_in_ is not one name per feature")


def _check_n_features_in(expected):
    def check(est, where):
        n_in = getattr(est, "n_features_in_", None)
        if n_in is not None and n_in != expected:
            raise _Error(f"{where}.n_features_in_ = {n_in!r:.20}; {expected} expected")
    return check


_CHECKS = {
    "skin_estimators.ChannelNormalizer": _check_channel_normalizer,
    "skin_estimators.ImageLoader": _check_n_features_in(1),
    "skin_estimators.PretrainedFeatures": check_pretrained_features,
    "sklearn.preprocessing.StandardScaler": _check_standard_scaler,
    "sklearn.linear_model.LogisticRegression": _check_logistic_regression,
    "skin_estimators.TrustedClassifier": check_trusted,
    "skin_estimators.DomainAdapter": check_adapter,
}


# ------------------------------------------------------------------ pipelines
def check_pipeline(pipeline, where):
    """Transformers, then a classifier; each step's input the size of the previous output."""
    from sklearn.base import is_classifier

    steps = pipeline.steps
    name, last = steps[-1]
    if isinstance(last, str) or not is_classifier(last):
        what = "'passthrough'" if isinstance(last, str) else f"a {type(last).__name__}"
        raise _Error(f"{where}[{name!r}], the last step, is {what}, not a classifier; "
                         "a model file's pipeline ends with its classifier")
    previous = None
    for name, step in steps:
        if isinstance(step, str):
            continue
        if step is not last and not hasattr(step, "transform"):
            raise _Error(f"{where}[{name!r}] is a {type(step).__name__}, which cannot "
                             "transform what it passes on to the next step")
        expected = _features_out(previous)
        n_in = getattr(step, "n_features_in_", None)
        if expected is not None and n_in is not None and n_in != expected:
            raise _Error(f"{where}[{name!r}].n_features_in_ = {n_in}, but the step before "
                             f"it gives {expected} features")
        previous = step


def _features_out(step):
    """How many features ``step`` outputs, where the estimator says so."""
    from sklearn.preprocessing import StandardScaler

    if step is None:
        return None
    if isinstance(step, StandardScaler):
        return getattr(step, "n_features_in_", None)
    return getattr(step, "n_features_out_", None)
