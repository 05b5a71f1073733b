"""The schema of the YAML experiment config (pydantic models) and its expansion into rows.

Reading, overriding and checking a file is in ``_loading.py``; a row becomes a pipeline in
``_rows.py``.
"""

import hashlib
import itertools
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)

from .._normalization import PRESET_NAMES
from ..exceptions import ConfigError
from ._registry import default_normalization
from ._rows import Row
from ._trust_negatives import OutOfScopeConfig

__all__ = ["CONTROLLED", "PROTOCOL_SETS", "ConfigError", "ExperimentConfig", "Row"]

# "auto": the model's own (see the architecture registry); "fold": learned on each training
# fold; otherwise a normalisation preset.
Normalization = Literal[("auto", "fold", *PRESET_NAMES)]


class _Section(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default); strict
    # types: "5" is not an int, 1 is not a bool; no NaN or infinity (YAML's .nan, .inf).
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class DataConfig(_Section):
    """``data:``: ``fetch_skin3`` or ``{path: folder relative to the config file}``."""

    fetch_skin3: bool = False
    path: str | None = None
    images_per_class: PositiveInt | None = None
    groups: Literal["atlas_page"] | None = "atlas_page"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        from ._negatives import NEGATIVE_SOURCES, refuse_yardstick

        refuse_yardstick(value)
        if isinstance(value, str) and value in NEGATIVE_SOURCES:
            raise ValueError(f"{value!r} names out-of-scope negatives, not the classes to "
                             "learn: give them where the trust section takes negatives, and "
                             "'fetch_skin3' or {path: ...} here")
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


#: The protocols a run can ask for, and the ones each name stands for.
PROTOCOL_SETS = {
    "stratified": ["stratified"], "group": ["group"], "controlled": ["controlled"],
    "both": ["stratified", "group"], "all": ["stratified", "group", "controlled"],
}

#: The protocol whose folds see controlled inputs (``CONTROLLED_INPUTS`` on the ImageLoader).
CONTROLLED = "controlled"


class CVConfig(_Section):
    """``cv:``: protocol, number of folds and the seeds of the splits."""

    protocol: Literal["stratified", "group", "controlled", "both", "all"] = "stratified"
    n_splits: Annotated[int, Field(ge=2)] = 5
    seeds: Annotated[list[int], Field(min_length=1)] = [42]

    @property
    def protocols(self):
        return list(PROTOCOL_SETS[self.protocol])


class TrustConfig(_Section):
    """``trust:``: how sure the trained model is (a :class:`~skin_estimators.TrustedClassifier`).

    ``train`` then wraps the row's estimator, fits calibration, conformal sets and the
    out-of-scope threshold on out-of-fold predictions of a grouped CV (the data's groups),
    and stores them in the model file.
    """

    confidence_level: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.9
    mondrian: bool = True
    calibration: Literal["temperature", "sigmoid"] | None = "temperature"
    #: A score name, or ``{method: ..., negatives: ...}`` (``_trust_negatives.py``).
    out_of_scope: Literal["mahalanobis", "knn", "max_proba"] | OutOfScopeConfig | None = \
        "mahalanobis"
    false_alarm_rate: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.05
    cv: Annotated[int, Field(ge=2)] = 5
    prevalence: Literal["training", "balanced"] = "training"
    conformal: Literal["split", "cross"] = "split"

    def classifier_params(self):
        """The ``TrustedClassifier`` parameters of the section (the score's name only)."""
        params = self.model_dump()
        if isinstance(self.out_of_scope, OutOfScopeConfig):
            params["out_of_scope"] = self.out_of_scope.method
        return params


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
    #: ``name: ensemble`` only: the members of the soft vote, labels of other entries or
    #: entries of their own (see ``_ensemble.py``).
    members: "list[str | ModelSpec] | None" = None


ModelSpec.model_rebuild()


class ExperimentConfig(_Section):
    """A validated experiment config; see :mod:`skin_estimators.experiments` for the schema.

    Made by :func:`load_config` (from a YAML file) or :func:`validate_config` (from a dict);
    every key of the file is an attribute, with the defaults filled in.

    Examples
    --------
    >>> from skin_estimators.experiments import validate_config
    >>> config = validate_config({
    ...     "data": "fetch_skin3", "image_size": 64, "cv": {"protocol": "both"},
    ...     "models": [{"name": "cnn", "grid": {"lr": [0.01, 0.001]}}]})
    >>> config.image_size, config.resize, config.cv.n_splits, config.cv.seeds
    (64, 'stretch', 5, [42])
    >>> len(config.rows())
    2
    """

    name: str | None = None
    data: DataConfig
    image_size: PositiveInt | Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] = 400
    resize: Literal["stretch", "pad", "crop"] = "stretch"
    #: ImageLoader's colour constancy, for every protocol's inputs (None: the photo's own).
    color_constancy: Literal["shades_of_gray", "grey_world"] | None = None
    normalization: Normalization = "auto"
    cv: CVConfig = CVConfig()
    device: str = "auto"
    threads: PositiveInt | None = None
    trust: TrustConfig | None = None
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
        from ..preprocessing._image_loader import MAX_IMAGE_SIDE

        if max(value if ok_pair else [value]) > MAX_IMAGE_SIDE:
            raise ValueError(f"at most {MAX_IMAGE_SIDE} pixels a side (got {value!r}); the "
                             "study used 400")
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value):
        # Checked here so that a run fails before its first fold, in one line naming the key.
        from ..utils._device import check_device_available

        check_device_available(value, owner="the config")
        return value

    def with_protocol(self, protocol):
        """A copy with ``cv.protocol`` replaced (read from the same file)."""
        config = self.model_copy(update={"cv": self.cv.model_copy(update={"protocol": protocol})})
        config._source = self._source
        return config

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
        from ._ensemble import ENSEMBLE, ensemble_normalization, member_specs

        rows = []
        for index, spec in enumerate(self.models):
            keys = list(spec.grid)
            members = None
            if spec.name == ENSEMBLE:  # a soft vote: one row of its own, over its members
                members = [self._row(m, {}, {}, index) for m in member_specs(self, spec)]
            for values in itertools.product(*(spec.grid[k] for k in keys)):
                params = {**spec.params, **dict(zip(keys, values, strict=True))}
                row = self._row(spec, params, dict(zip(keys, values, strict=True)), index)
                if members is not None:
                    row.members = members
                    row.normalization = ensemble_normalization(self, spec)
                rows.append(row)
        for row in rows:
            row.row_id = self._row_id(row)
        return rows

    def _row(self, spec, params, grid_values, index):
        norm = spec.normalization or self.normalization
        if norm == "auto":
            norm = default_normalization(spec.name)
        return Row(
            model=spec.name, label=spec.label or spec.name, params=params or dict(spec.params),
            normalization=norm, grid_values=grid_values,
            reference=spec.reference.model_dump() if spec.reference else None,
            entry=index, image_size=self.image_size, resize=self.resize,
            color_constancy=self.color_constancy,
        )

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
        if self.trust is not None:  # (absent otherwise: the ids of configs without it stay)
            identity["trust"] = self.trust.model_dump()
        if self.color_constancy is not None:  # (likewise)
            identity["color_constancy"] = self.color_constancy
        if row.members is not None:
            identity["members"] = [(m.label, m.model, m.params, m.normalization)
                                   for m in row.members]
        text = json.dumps(identity, sort_keys=True, default=repr)
        return f"{row.model.replace(':', '_').replace('.', '_')}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
