"""The ``trust.out_of_scope`` section of a config that names negatives, and their loading.

``trust: {out_of_scope: knn}`` names a score fitted on the training classes alone;
``trust: {out_of_scope: {method: knn_other, negatives: fetch_sd198_other}}`` names a score
that learns from negatives, photos of other conditions (``uncertainty/_negatives.py``).
The negatives are ``fetch_sd198_other`` (SD-198's 24 other conditions, from
:func:`~skin_estimators.datasets.fetch_sd198`) or ``{path: folder}``, a folder with one
sub-folder per condition (relative to the config file). SD-198's photos of the three
diseases are a yardstick and never negatives.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["NEGATIVE_METHODS", "NegativesFolder", "OutOfScopeConfig", "load_config_negatives"]

#: The out-of-scope scores that learn from negatives (``TrustedClassifier(out_of_scope=)``).
NEGATIVE_METHODS = ("other_class", "knn_other")
_PLAIN = ("mahalanobis", "knn", "max_proba")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class NegativesFolder(_Strict):
    """``{path: folder}``: one sub-folder of photos per other condition."""

    path: str


class OutOfScopeConfig(_Strict):
    """``out_of_scope: {method: ..., negatives: ...}``."""

    method: Literal[(*NEGATIVE_METHODS, *_PLAIN)]
    negatives: Literal["fetch_sd198_other"] | NegativesFolder | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_yardstick(cls, value):
        if isinstance(value, dict) and value.get("negatives") in ("fetch_sd198", "sd198",
                                                                  "fetch_sd198_diseases"):
            raise ValueError("negatives: SD-198's photos of the three diseases are a yardstick "
                             "that no model may be trained on; the other conditions are "
                             "'fetch_sd198_other'")
        return value

    @model_validator(mode="after")
    def _negatives_with_method(self):
        if (self.method in NEGATIVE_METHODS) != (self.negatives is not None):
            raise ValueError(
                f"method {self.method!r} " + ("learns from negatives: give negatives: "
                                              "fetch_sd198_other or {path: folder}"
                                              if self.negatives is None else
                                              "learns from no negatives: drop negatives, or "
                                              f"use one of {', '.join(NEGATIVE_METHODS)}"))
        return self


def load_config_negatives(config):
    """The file names of the config's negatives (None when it names none).

    Loaded by :func:`~skin_estimators.experiments._negatives.load_negatives` (a ``{path:
    ...}`` relative to the config file; a folder holding a copy of a yardstick photo is
    refused). Returns a sorted list of paths.
    """
    from ._negatives import load_negatives

    trust = config.trust
    spec = getattr(trust, "out_of_scope", None) if trust is not None else None
    if not isinstance(spec, OutOfScopeConfig) or spec.negatives is None:
        return None
    value = spec.negatives if isinstance(spec.negatives, str) else {"path": spec.negatives.path}
    base = None if config._source is None else config._source.parent
    return sorted(load_negatives(value, base=base).filenames)
