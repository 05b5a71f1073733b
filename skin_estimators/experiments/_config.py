"""The YAML experiment config: its schema (pydantic), loading, overrides and clear errors.

pydantic checks the structure and the types; the model names and the estimator parameter
names are checked afterwards against the estimators themselves. Every error is raised as a
:class:`ConfigError` that names the file and the dotted key (``models[1].params.lrr``).
"""

import copy
import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ._registry import default_normalization, resolve_model

__all__ = ["ConfigError", "ExperimentConfig", "Row", "load_config"]

Normalization = Literal["auto", "fold", "study", "imagenet", "bit"]


class ConfigError(ValueError):
    """An experiment config that cannot be used; the message names the file and the key.

    Attributes
    ----------
    path : str or None
        The config file.
    problems : list of (str, str)
        ``(dotted key, what is wrong)`` for every problem found.
    """

    def __init__(self, path, problems):
        self.path = None if path is None else str(path)
        self.problems = list(problems)
        where = self.path or "<config>"
        if len(self.problems) == 1:
            key, what = self.problems[0]
            message = f"{where}: {key}: {what}" if key else f"{where}: {what}"
        else:
            lines = [f"  {key}: {what}" if key else f"  {what}" for key, what in self.problems]
            message = f"{where}: {len(self.problems)} problems:\n" + "\n".join(lines)
        super().__init__(message)


class _Section(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default); strict
    # types: "5" is not an int, 1 is not a bool.
    model_config = ConfigDict(extra="forbid", strict=True)


class DataConfig(_Section):
    """``data:``: ``fetch_skin3`` or ``{path: folder relative to the config file}``."""

    fetch_skin3: bool = False
    path: str | None = None
    images_per_class: PositiveInt | None = None
    groups: Literal["atlas_page"] | None = "atlas_page"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        if isinstance(value, str):
            if value == "fetch_skin3":
                return {"fetch_skin3": True}
            raise ValueError(
                f"must be 'fetch_skin3' or a mapping such as {{path: images/}} (got {value!r}); "
                "a path is written as {path: ...}"
            )
        return value

    @model_validator(mode="after")
    def _one_source(self):
        if self.fetch_skin3 == (self.path is not None):
            raise ValueError(
                "give exactly one data source: 'fetch_skin3' or {path: folder with one "
                "sub-folder per class}"
            )
        return self


class CVConfig(_Section):
    """``cv:``: protocol, number of folds and the seeds of the splits."""

    protocol: Literal["stratified", "group", "both"] = "stratified"
    n_splits: Annotated[int, Field(ge=2)] = 5
    seeds: Annotated[list[int], Field(min_length=1)] = [42]

    @property
    def protocols(self):
        return ["stratified", "group"] if self.protocol == "both" else [self.protocol]


class Reference(_Section):
    """The published numbers of a row, shown next to the measured ones."""

    recall: float | None = None
    precision: float | None = None
    f1: float | None = None
    total_time_s: float | None = None


class ModelSpec(_Section):
    """One entry of ``models:``; its grid expands into one row per combination."""

    name: str
    label: str | None = None
    normalization: Normalization | None = None
    params: dict[str, Any] = {}
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = {}
    reference: Reference | None = None


class ExperimentConfig(_Section):
    """A validated experiment config; see :mod:`skin_estimators.experiments` for the schema."""

    name: str | None = None
    data: DataConfig
    image_size: PositiveInt | Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] = 400
    resize: Literal["stretch", "pad", "crop"] = "stretch"
    normalization: Normalization = "auto"
    cv: CVConfig = CVConfig()
    device: str = "auto"
    threads: PositiveInt | None = None
    models: Annotated[list[ModelSpec], Field(min_length=1)]

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("image_size", mode="before")
    @classmethod
    def _size(cls, value):
        # One clear message instead of one per branch of the union.
        ok_int = isinstance(value, int) and not isinstance(value, bool) and value > 0
        ok_pair = (isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value))
        if not (ok_int or ok_pair):
            raise ValueError(f"must be a positive integer or [height, width] (got {value!r})")
        return value

    @property
    def source(self):
        """The file the config was read from (None for a config built in Python)."""
        return self._source

    @property
    def experiment_name(self):
        """``name``, else the config file's stem, else ``"skin-estimators"``."""
        if self.name:
            return self.name
        return self._source.stem if self._source is not None else "skin-estimators"

    def data_root(self):
        """The image folder of ``data.path``, relative to the config file (never to the cwd)."""
        if self.data.path is None:
            return None
        path = Path(os.path.expanduser(self.data.path))
        if not path.is_absolute():
            if self._source is None:
                raise ConfigError(None, [("data.path", f"{self.data.path!r} is relative, but the "
                                          "config was not read from a file; give an absolute path")])
            path = self._source.parent / path
        return path.resolve()

    def rows(self):
        """The config's rows: each model entry times each combination of its grid."""
        rows = []
        for index, spec in enumerate(self.models):
            keys = list(spec.grid)
            for values in itertools.product(*(spec.grid[k] for k in keys)):
                params = {**spec.params, **dict(zip(keys, values, strict=True))}
                norm = spec.normalization or self.normalization
                if norm == "auto":
                    norm = default_normalization(spec.name)
                rows.append(Row(
                    model=spec.name, label=spec.label or spec.name, params=params,
                    normalization=norm, grid_values=dict(zip(keys, values, strict=True)),
                    reference=spec.reference.model_dump() if spec.reference else None,
                    entry=index,
                ))
        for row in rows:
            row.row_id = self._row_id(row)
        return rows

    def _row_id(self, row):
        # Everything that changes a fold's result, so that --resume never mixes settings.
        data = {"fetch_skin3": True} if self.data.fetch_skin3 else {"path": str(self.data_root())}
        data["images_per_class"] = self.data.images_per_class
        data["groups"] = self.data.groups
        identity = {
            "model": row.model, "params": row.params, "normalization": row.normalization,
            "image_size": self.image_size, "resize": self.resize, "data": data,
            "n_splits": self.cv.n_splits,
        }
        text = json.dumps(identity, sort_keys=True, default=repr)
        return f"{row.model.replace(':', '_').replace('.', '_')}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


@dataclass
class Row:
    """One row of the results table (before the CV protocol is chosen)."""

    model: str
    label: str
    params: dict
    normalization: str
    grid_values: dict = field(default_factory=dict)
    reference: dict | None = None
    entry: int = 0
    row_id: str = ""

    def make_estimator(self, seed, device):
        """A fresh estimator with this row's parameters (``random_state`` defaults to ``seed``)."""
        cls = resolve_model(self.model)
        est = cls()
        defaults = {"random_state": seed, "device": device, "verbose": 0}
        names = est.get_params(deep=False)
        params = {k: v for k, v in defaults.items() if k in names}
        params.update(self.params)
        return est.set_params(**params)


# ---------------------------------------------------------------------------- loading
def load_config(path, overrides=None, models=None):
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
    skin_estimators.experiments._config.ConfigError: .../tiny.yaml: models[0].params.lrr: ...
    """
    path = Path(path).expanduser().resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [("", f"cannot read the config file ({exc.strerror or exc})")]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [("", f"not valid YAML: {exc}")]) from None
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
            kept = [m for m in entries if isinstance(m, dict) and m.get("name") in models]
            if not kept:
                names = sorted({str(m.get("name")) for m in entries if isinstance(m, dict)})
                raise ConfigError(path, [("models", f"no entry for {', '.join(models)}; the "
                                          f"config has {', '.join(names)}")])
            raw["models"] = kept
    return validate_config(raw, path)


def validate_config(raw, path=None):
    """Validate a config given as a dict (as read from YAML); ``path`` is used in messages."""
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(err) for err in exc.errors()]) from None
    config._source = None if path is None else Path(path)
    _check_models(config, path)
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
            parsed[key.strip()] = yaml.safe_load(value)
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
    import typing

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


def _check_models(config, path):
    """Model names and estimator parameter names: errors that name the key."""
    problems = []
    for i, spec in enumerate(config.models):
        try:
            cls = resolve_model(spec.name)
        except ValueError as exc:
            problems.append((f"models[{i}].name", str(exc)))
            continue
        try:
            est = cls()
            names = set(est.get_params(deep=False))
        except Exception as exc:  # a custom class that cannot be built without arguments
            problems.append((f"models[{i}].name", f"cannot create {spec.name}(): {exc}"))
            continue
        # skorch routes "<prefix>__<name>" to the module, optimizer, criterion, ...
        prefixes = set(getattr(est, "prefixes_", ())) | {"module", "criterion", "optimizer"}
        for section in ("params", "grid"):
            for key in getattr(spec, section):
                if key in names or ("__" in key and key.partition("__")[0] in prefixes):
                    continue
                problems.append((
                    f"models[{i}].{section}.{key}",
                    f"{cls.__name__} has no parameter {key!r}; its parameters are "
                    f"{', '.join(sorted(n for n in names if not n.startswith('_')))} "
                    f"(and {', '.join(p + '__*' for p in sorted(prefixes))})",
                ))
        both = set(spec.params) & set(spec.grid)
        for key in sorted(both):
            problems.append((f"models[{i}].grid.{key}", "is also in params; give it in one place"))
    if problems:
        raise ConfigError(path, problems)
