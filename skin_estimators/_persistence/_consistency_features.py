"""Load-time consistency of a stored :class:`~skin_estimators.PretrainedFeatures`.

Its fitted state besides the frozen network's weights (stored as tensors): the number of
channels it takes, the length of its feature vector, and the reference outputs a cached ONNX
graph of its network is checked against (a probe image's shape and the features PyTorch
computed for it, see ``preprocessing/_onnx_trust.py``). :data:`PRETRAINED_FIELDS` declares
them (see ``_fields.py``); a new fitted attribute is stored, allowed and checked by adding its
field there.
"""

from ._codec import InconsistentModelError
from ._fields import Floats, Integer, Sizes, check_fields

__all__ = ["PRETRAINED_FIELDS", "check_pretrained_features"]

#: The largest side of a probe image: that of the images ImageLoader makes.
_MAX_SIDE = 4096

#: The fitted attributes of PretrainedFeatures a safe file may set, in the order checked.
PRETRAINED_FIELDS = {
    "n_features_in_": Integer(3, 3),
    "n_features_out_": Integer(1, binds="n_features_out"),
    "probe_shape_": Sizes(3, high=_MAX_SIDE),
    "probe_features_": Floats(1, "n_features_out"),
}


def check_pretrained_features(est, where):
    """The fitted attributes of a PretrainedFeatures against each other."""
    check_fields(est, PRETRAINED_FIELDS, where)
    shape = getattr(est, "probe_shape_", None)
    if shape is not None and shape[0] != 3:
        raise InconsistentModelError(f"{where}.probe_shape_ = {shape} is not the shape of a "
                                     "colour image (3, height, width)")
    if (shape is None) != (getattr(est, "probe_features_", None) is None):
        raise InconsistentModelError(f"{where} holds one of probe_shape_ and probe_features_ "
                                     "without the other")
