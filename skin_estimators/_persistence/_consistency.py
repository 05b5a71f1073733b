"""Load-time consistency of a safe model file: what its description may say, and what not.

The digest of a safe file catches damage, not intent: whoever can edit a file can recompute
it. So every estimator a file describes is checked while it is built, before anything can
predict with it:

- the description has the form the writer gives it (a class, parameters, fitted attributes;
  a network's classes and weights; a pipeline's named steps; fold models where the class
  keeps them);
- every float among the parameters and fitted attributes is finite, and a ``device`` is one
  a model can run on;
- every parameter is within the constraints its class declares, as ``fit`` checks them;
- every fitted attribute is one its class allows (``_fitted.py``) and the estimator's own
  check accepts them together: a library estimator's declared ``_check_model_file_state``
  (``utils/_model_state.py``), a scikit-learn class's check of ``_sklearn.py``;
- a pipeline has steps, its last one is a classifier, and each step takes what the one
  before it gives.

Each check raises :class:`InconsistentModelError` (a ValueError) naming the field
(``model['logisticregression'].coef_``); the loader adds the file's name.
"""

from ..exceptions import InconsistentModelError
from ..utils._fields import check_finite
from ..utils._model_state import check_model_file_state
from ._codec import check_device_name
from ._fitted import check_fitted_names
from ._sklearn import CHECKS
from ._voting import VOTING

__all__ = ["InconsistentModelError", "check_built", "check_params", "check_pipeline",
           "check_spec", "fold_models", "network_names"]

_Error = InconsistentModelError  # what every check raises


def network_names(cls):
    """The skorch networks whose weights a file holds for ``cls`` (its declaration)."""
    return tuple(getattr(cls, "_model_file_networks", ()) or ())


def fold_models(cls):
    """How many fold models (``estimators_``) a file may hold for ``cls`` (its declaration)."""
    return int(getattr(cls, "_model_file_fold_models", 0) or 0)


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
        folds, most = spec["estimators"], fold_models(cls)
        if not most:
            raise _Error(f"{where} is a {short}, which keeps no fold models")
        if not (isinstance(folds, list) and 1 <= len(folds) <= most):
            raise _Error(f"{where}.estimators is not a list of 1 to {most} fold models")
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
    if network_names(cls):
        if "classes" not in spec or not isinstance(spec.get("modules"), dict) \
                or not spec["modules"]:
            raise _Error(f"{where} is a {short} without its classes and trained network")
        for module, key in spec["modules"].items():
            if module not in network_names(cls) or not isinstance(key, str):
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


# ------------------------------------------------------------------ fitted estimators
def check_built(name, est, where):
    """Check a built (non-pipeline) estimator's fitted attributes against each other.

    ``name`` is its allow-listed class name; the attributes were checked to be finite as
    they were decoded. A class with networks checked its state before they were built.
    """
    if name in CHECKS:
        CHECKS[name](est, where)
    elif name != VOTING and not network_names(type(est)):
        check_model_file_state(est, where)


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
