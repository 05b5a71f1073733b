"""What a :class:`~skin_estimators.adaptation.DomainAdapter` keeps in a safe model file.

Its fitted state is arrays and numbers: the kept training features (and labels), and once
adapted the affine map of the new clinic's features, the number of photos it was adapted to
and their digest. Each is checked for type, shape and range against the others (the values
were checked to be finite as they were decoded), so that a crafted file cannot give a map
of the wrong size, a zero or negative scale, or claim an adaptation it does not hold.
:data:`ADAPTER_FIELDS` lists them (the allow-list of a safe file), :func:`check_adapter`
checks them.
"""

import numbers
import re

import numpy as np

from ..exceptions import InconsistentModelError as _Error
from ..utils._fields import Checked, float_array

__all__ = ["ADAPTER_FIELDS", "check_adapter"]

#: The fitted attributes of DomainAdapter a safe file may set (checked by check_adapter).
ADAPTER_FIELDS = {name: Checked() for name in (
    "n_features_in_", "n_features_out_", "source_features_", "source_labels_", "offset_",
    "scale_", "components_", "n_target_", "target_digest_")}

_DIGEST = re.compile(r"[0-9a-f]{64}")


def _count(value, where, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise _Error(f"{where} = {value!r:.40} is not an integer >= {low}")
    return int(value)


def check_adapter(est, where):
    """The fitted attributes of a DomainAdapter against each other."""
    d = _count(est.n_features_in_, f"{where}.n_features_in_", 1)
    source = est.source_features_
    if not (isinstance(source, np.ndarray) and source.dtype.kind == "f" and source.ndim == 2
            and source.shape[1] == d and len(source) >= 1):
        raise _Error(f"{where}.source_features_ is not a (n_samples, {d}) array of floats")
    labels = getattr(est, "source_labels_", None)
    if labels is not None and not (isinstance(labels, np.ndarray) and labels.shape
                                   == (len(source),)):
        raise _Error(f"{where}.source_labels_ is not one label per training feature row")
    n_target = _count(getattr(est, "n_target_", 0), f"{where}.n_target_", 0)
    mapping = (getattr(est, "offset_", None), getattr(est, "scale_", None))
    components = getattr(est, "components_", None)
    digest = getattr(est, "target_digest_", None)
    n_out = _count(getattr(est, "n_features_out_", d), f"{where}.n_features_out_", 1)
    if not n_target:
        if any(v is not None for v in (*mapping, components, digest)) or n_out != d:
            raise _Error(f"{where} holds an adaptation but n_target_ = 0")
        return
    float_array(mapping[0], f"{where}.offset_", (d,))
    if not (float_array(mapping[1], f"{where}.scale_", (d,)) > 0).all():
        raise _Error(f"{where}.scale_ is not positive for every feature")
    if components is not None:
        float_array(components, f"{where}.components_", (d, n_out))
    elif n_out != d:
        raise _Error(f"{where}.n_features_out_ = {n_out} without components_; {d} expected")
    if not (isinstance(digest, str) and _DIGEST.fullmatch(digest)):
        raise _Error(f"{where}.target_digest_ is not a SHA-256 hex digest")
