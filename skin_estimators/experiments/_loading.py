"""Reading a YAML experiment config: overrides, validation and errors that name file and key.

pydantic checks the structure and the types; the model names, the estimator parameter names
and their values (against each estimator's declared parameter constraints) are checked
afterwards against the estimators themselves. Every error is raised as a
:class:`ConfigError` that names the file and the dotted key (``models[1].params.lrr``).
"""

import copy
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from .._registry import estimator_params
from ..utils._param_validation import ParameterConstraintError, shown, validate_constraints
from ..utils._validation import first_non_finite
from ._config import ConfigError, ExperimentConfig
from ._registry import optimizer_class, resolve_model

__all__ = ["apply_overrides", "load_config", "validate_config"]


def load_config(path, overrides=None, models=None, allow_import=False):
    """Read, override and validate a YAML experiment config.

    Parameters
    ----------
    path : str or path-like
        The YAML file. ``data.path`` in it is relative to this file.
    overrides : dict or list of str, default=None
        Values that replace those of the file before validation, by dotted key (list items
        by index): ``{"image_size": 32, "cv.n_splits": 2, "models.0.params.max_epochs": 1}``
        or the same as ``"key=value"`` strings (values are parsed as YAML).
    models : list of str, default=None
        Keep only the ``models:`` entries with these names (before validation, so entries of
        other models are not checked).
    allow_import : bool, default=False
        Accept model names that are import paths outside ``skin_estimators``
        (``"mypackage.models:MyNet"``). Loading such a config imports that module and calls
        the object, so, as for pickled model files, only allow it for configs you trust.

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        If the file is missing or not YAML, or if a key is unknown, a value has the wrong type,
        a model is unknown or a parameter is not one of its estimator's. The message names
        the file and the key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skin_estimators.experiments import load_config
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "tiny.yaml").write_text(
    ...     "data: fetch_skin3\\n"
    ...     "image_size: 32\\n"
    ...     "models:\\n"
    ...     "  - name: cnn\\n"
    ...     "    params: {max_epochs: 1}\\n"
    ...     "    grid: {lr: [0.01, 0.001]}\\n")
    >>> config = load_config(folder / "tiny.yaml", overrides=["cv.n_splits=2"])
    >>> [(row.model, row.params) for row in config.rows()]
    [('cnn', {'max_epochs': 1, 'lr': 0.01}), ('cnn', {'max_epochs': 1, 'lr': 0.001})]
    >>> load_config(folder / "tiny.yaml", overrides={"models.0.params.lrr": 1})
    Traceback (most recent call last):
    ...
    skin_estimators.exceptions.ConfigError: .../tiny.yaml: models[0].params.lrr: ...
    """
    path = Path(path).expanduser().resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [("", f"cannot read the config file ({exc.strerror or exc})")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [("", f"not a text file in UTF-8 (byte {exc.start}: "
                                      f"{exc.reason}); a config is a YAML text file")]) from None
    raw = _parse_yaml(text, path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, [("", f"the top level must be a mapping of keys, got {type(raw).__name__}")])
    if raw.get("data") == "fetch_skin3":  # so that "data.images_per_class=6" can override
        raw["data"] = {"fetch_skin3": True}
    raw = apply_overrides(raw, overrides, path)
    if models is not None:
        entries = raw.get("models")
        if isinstance(entries, list):
            from ._ensemble import inline_members

            kept = [m for m in inline_members(entries)
                    if isinstance(m, dict) and m.get("name") in models]
            if not kept:
                names = sorted({str(m.get("name")) for m in entries if isinstance(m, dict)})
                raise ConfigError(path, [("models", f"no entry for {', '.join(models)}; the "
                                          f"config has {', '.join(names)}")])
            raw["models"] = kept
    return validate_config(raw, path, allow_import=allow_import)


#: Most values a config may hold once YAML aliases are expanded. Real configs hold a few
#: hundred; a "billion laughs" document holds billions that share memory until something
#: (a copy, ``json.dumps``) expands them.
MAX_CONFIG_VALUES = 100_000


def _count_values(node, budget):
    """Count the values of ``node`` with aliases expanded; stop as soon as ``budget`` is spent."""
    stack, count = [node], 0
    while stack:
        item = stack.pop()
        count += 1
        if count > budget:
            return count
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return count


def _parse_yaml(text, path, where=""):
    """``yaml.safe_load`` with one-line errors and a bound on alias expansion."""
    prefix = f"{where}: " if where else ""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(path, [("", f"{prefix}not valid YAML: {detail}")]) from None
    if _count_values(raw, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise ConfigError(path, [("", f"{prefix}expands to more than {MAX_CONFIG_VALUES:,} "
                                      "values (nested YAML aliases?); write the values out")])
    return raw


def validate_config(raw, path=None, allow_import=False):
    """Validate a config given as a dict (as read from YAML); ``path`` is used in messages.

    Parameters
    ----------
    raw : dict
        The config, as :func:`yaml.safe_load` returns it.
    path : str or path-like, default=None
        The file it came from: named in error messages, and the folder that ``data.path``
        is relative to.
    allow_import : bool, default=False
        Accept model names that are import paths outside ``skin_estimators``
        (``"mypackage.models:MyNet"``). Loading such a config imports that module and calls
        the object, so, as for pickled model files, only allow it for configs you trust.

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        Naming the file and every key that is unknown or has a wrong value.

    Examples
    --------
    >>> from skin_estimators.experiments import validate_config
    >>> config = validate_config({"data": "fetch_skin3", "models": [{"name": "cnn"}]})
    >>> config.image_size, config.cv.protocol
    (400, 'stratified')
    >>> validate_config({"data": "fetch_skin3", "models": [{"name": "cnn"}], "epochs": 3})
    Traceback (most recent call last):
    ...
    skin_estimators.exceptions.ConfigError: <config>: epochs: ...
    """
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(err) for err in exc.errors()]) from None
    config._source = None if path is None else Path(path)
    _check_models(config, path, allow_import)
    seen, problems = {}, []
    for row in config.rows():
        if row.row_id in seen:
            problems.append((f"models[{row.entry}]", f"gives the same row ({row.model} "
                             f"{row.params}) as models[{seen[row.row_id]}]; remove one"))
        seen.setdefault(row.row_id, row.entry)
    if problems:
        raise ConfigError(path, problems)
    return config


def apply_overrides(raw, overrides, path=None):
    """Return a copy of ``raw`` with the dotted-key ``overrides`` set."""
    if not overrides:
        return raw
    if not isinstance(overrides, dict):
        parsed = {}
        for item in overrides:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip():
                raise ConfigError(path, [("", f"override {item!r} is not of the form key=value")])
            parsed[key.strip()] = _parse_yaml(value, path, where=f"override {item!r}")
        overrides = parsed
    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node, parts = raw, dotted.split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    where = ".".join(parts[:depth]) or "<top>"
                    raise ConfigError(path, [(dotted, f"{where} is a list of {len(node)} item(s); "
                                              f"{part!r} is not an index into it")])
                part = int(part)
            elif not isinstance(node, dict):
                raise ConfigError(path, [(dotted, f"{'.'.join(parts[:depth])} is not a mapping")])
            if last:
                node[part] = value
            else:
                if isinstance(node, dict) and not isinstance(node.get(part), (dict, list)):
                    node[part] = {}
                node = node[part]
    return raw


# ---------------------------------------------------------------------------- messages
def _dotted(loc):
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-before[_shorthand()]",) or "[" in str(part):
            continue  # pydantic's names of validators and union branches
        else:
            out += f".{part}" if out else str(part)
    return out


def _section_at(loc):
    """The pydantic model class that holds the last key of ``loc`` (for 'allowed keys')."""
    node = ExperimentConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)) or part not in node.model_fields:
            return None
        annotation = node.model_fields[part].annotation
        node = None
        for candidate in [annotation, *typing.get_args(annotation)]:
            for inner in [candidate, *typing.get_args(candidate)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    node = inner
        if node is None:
            return None
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _describe(err):
    loc = tuple(err["loc"])
    key = _dotted(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        section = _section_at(loc)
        allowed = f"; allowed keys here: {', '.join(section.model_fields)}" if section else ""
        return key, f"unknown key{allowed}"
    if kind == "missing":
        return key, "required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if "input" in err and kind not in ("value_error",):
        message += f" (got {err['input']!r})"
    return key, message


#: Parameters whose value is a Python object (a class or a callable); a config cannot make one,
#: except an optimizer named by its class in ``torch.optim`` (``optimizer: Adam``).
_OBJECT_PARAMS = ("module", "criterion", "callbacks", "train_split", "iterator_train",
                  "iterator_valid", "dataset", "predict_nonlinearity")


def _check_value(est, key, value):
    """What is wrong with ``key: value`` for estimator ``est`` (None if nothing we can see).

    Catches at load time what would otherwise fail deep in ``fit`` with a bare TypeError, or
    not fail at all: NaN or infinity anywhere in the value (``lr: .nan``), a name for an
    object (``optimizer: SGD`` is turned into ``torch.optim.SGD``; ``criterion: foo`` cannot
    be), a ``module__`` keyword the network does not take, and any value that the
    estimator's declared parameter constraints refuse (``max_epochs: "two"``), checked by the
    same function that ``fit`` calls, on the estimator built for the row.
    """
    import inspect

    bad = first_non_finite(value)
    if bad is not None:  # torch takes a NaN lr or momentum and trains to NaN weights silently
        return f"must be a finite number (got {bad!r})"
    if key == "optimizer" and isinstance(value, str):
        cls = optimizer_class(value)
        if cls is None:
            return f"{value!r} is not an optimizer in torch.optim (e.g. SGD, Adam, AdamW)"
        value = cls
    elif key in _OBJECT_PARAMS and value is not None:
        return "takes a Python object, which a config file cannot give; leave it out"
    if key.startswith("module__"):
        module = getattr(est, "module", None)
        try:
            sig = inspect.signature(module)
        except (TypeError, ValueError):
            return None
        takes = sig.parameters
        if not any(p.kind is p.VAR_KEYWORD for p in takes.values()) and key[8:] not in takes:
            return (f"the network {getattr(module, '__name__', module)} has no argument "
                    f"{key[8:]!r}; it takes {', '.join(takes) or 'none'}")
        return None
    return _constraint_problem(est, key, value)


def _constraint_problem(est, key, value):
    """The declared constraints' verdict on ``key: value``, for ``est`` or its nested step."""
    owner, name = est, key
    while "__" in name:  # a pipeline's "pretrainedfeatures__batch_size"
        prefix, _, rest = name.partition("__")
        inner = dict(getattr(owner, "steps", None) or owner.get_params(deep=False)).get(prefix)
        if inner is None or isinstance(inner, type) or not hasattr(inner, "get_params"):
            return None  # skorch's routed arguments: checked above
        owner, name = inner, rest
    try:
        validate_constraints(owner, {name: value})
    except ParameterConstraintError as exc:
        return f"must be {exc.takes} (got {shown(value)}){getattr(exc, 'hint', '')}"
    return None


def _check_models(config, path, allow_import=False):
    """Model names and estimator parameter names: errors that name the key."""
    from ._ensemble import ENSEMBLE, check_ensembles

    problems = []
    for i, spec in enumerate(config.models):
        if spec.name == ENSEMBLE:  # its own keys below; its inline members as entries
            for j, member in enumerate(spec.members or []):
                if not isinstance(member, str) and member.name != ENSEMBLE:
                    problems += _check_entry(f"models[{i}].members[{j}]", member, allow_import)
        else:
            problems += _check_entry(f"models[{i}]", spec, allow_import)
    problems += check_ensembles(config)
    if problems:
        raise ConfigError(path, problems)


def _check_entry(entry, spec, allow_import):
    """The problems of one model entry (``models[i]``): its name, parameter names and values."""
    try:
        cls = resolve_model(spec.name, allow_import=allow_import)
    except ValueError as exc:
        return [(f"{entry}.name", str(exc))]
    try:
        est = cls(**estimator_params(spec.name))
        # A scikit-learn pipeline (the recommended model) takes its steps' parameters
        # by nested name ("logisticregression__C"); a skorch net its own only.
        names = set(est.get_params(deep=not hasattr(est, "prefixes_")))
    except Exception as exc:  # a custom class that cannot be built without arguments
        return [(f"{entry}.name", f"cannot create {spec.name}(): {exc}")]
    problems = []
    # skorch routes "<prefix>__<name>" to the module, optimizer, criterion, ...
    prefixes = set(getattr(est, "prefixes_", ())) | {"module", "criterion", "optimizer"}
    for section in ("params", "grid"):
        for key, value in getattr(spec, section).items():
            values = value if section == "grid" else [value]
            for v in values:
                problem = _check_value(est, key, v)
                if problem:
                    problems.append((f"{entry}.{section}.{key}", problem))
                    break
            if key in names or ("__" in key and key.partition("__")[0] in prefixes):
                continue
            problems.append((
                f"{entry}.{section}.{key}",
                f"{cls.__name__} has no parameter {key!r}; its parameters are "
                f"{', '.join(sorted(n for n in names if not n.startswith('_')))} "
                f"(and {', '.join(p + '__*' for p in sorted(prefixes))})",
            ))
    for key in sorted(set(spec.params) & set(spec.grid)):
        problems.append((f"{entry}.grid.{key}", "is also in params; give it in one place"))
    if not problems:
        problems += _check_together(entry, est, spec)
    return problems


def _check_together(entry, est, spec):
    """Parameters that are each valid but cannot go together (the estimator's own
    ``_check_params``, which ``fit`` runs): one problem naming the entry's params."""
    check = getattr(est, "_check_params", None)
    params = {k: v for k, v in spec.params.items() if k not in _OBJECT_PARAMS}
    if isinstance(params.get("optimizer"), str):  # as the row builds it: "Adam" -> the class
        params["optimizer"] = optimizer_class(params["optimizer"])
    if check is None or not params:
        return []
    try:
        est.set_params(**params)
        check()
    except (ValueError, TypeError) as exc:
        keys = [k for k in params if k in str(exc)] or sorted(params)
        return [(f"{entry}.params", f"{' and '.join(keys)}: {exc}")]
    return []
