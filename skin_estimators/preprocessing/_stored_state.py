"""What the transformers keep in a safe model file, and the checks of what a file gives them.

Each transformer declares its fitted attributes (``_model_file_fields``, see
``utils/_model_state.py``) and checks them, as a method, with the functions here:

- :class:`ImageLoader` keeps only ``n_features_in_`` (one column of images);
- :class:`ChannelNormalizer` its statistics, one per colour channel, the deviations positive;
- :class:`PretrainedFeatures`, besides the frozen network's weights (stored as tensors), the
  number of channels it takes, the length of its feature vector and the reference outputs a
  cached ONNX graph of its network is checked against (a probe image's shape and the features
  PyTorch computed for it, see ``_onnx_trust.py``), declared in :data:`PRETRAINED_FIELDS`.
"""

from ..exceptions import InconsistentModelError
from ..utils._fields import Checked, Floats, Integer, Sizes, check_fields, float_array

__all__ = ["LOADER_FIELDS", "NORMALIZER_FIELDS", "PRETRAINED_FIELDS", "check_loader_state",
           "check_normalizer_state", "check_pretrained_state"]

#: The largest side of a probe image: that of the images ImageLoader makes.
_MAX_SIDE = 4096

#: The fitted attributes of ImageLoader a safe file may set.
LOADER_FIELDS = {"n_features_in_": Checked()}

#: The fitted attributes of ChannelNormalizer a safe file may set.
NORMALIZER_FIELDS = {"mean_": Checked(), "std_": Checked(), "n_features_in_": Checked()}

#: The fitted attributes of PretrainedFeatures a safe file may set, in the order checked.
PRETRAINED_FIELDS = {
    "n_features_in_": Integer(3, 3),
    "n_features_out_": Integer(1, binds="n_features_out"),
    "probe_shape_": Sizes(3, high=_MAX_SIDE),
    "probe_features_": Floats(1, "n_features_out"),
}


def check_loader_state(est, where):
    """An ImageLoader takes one column: of paths or of images."""
    n_in = getattr(est, "n_features_in_", None)
    if n_in is not None and n_in != 1:
        raise InconsistentModelError(f"{where}.n_features_in_ = {n_in!r:.20}; 1 expected")


def check_normalizer_state(est, where):
    """A ChannelNormalizer's statistics: three means, three positive deviations."""
    float_array(est.mean_, f"{where}.mean_", (3,))
    std = float_array(est.std_, f"{where}.std_", (3,))
    if not (std > 0).all():
        raise InconsistentModelError(f"{where}.std_ = {std.tolist()} is not positive for "
                                     "every channel")
    n_in = getattr(est, "n_features_in_", None)
    if n_in is not None and n_in != 3:
        raise InconsistentModelError(f"{where}.n_features_in_ = {n_in!r:.20}; a colour image "
                                     "has 3 channels")


def check_pretrained_state(est, where):
    """The fitted attributes of a PretrainedFeatures against each other."""
    check_fields(est, PRETRAINED_FIELDS, where)
    shape = getattr(est, "probe_shape_", None)
    if shape is not None and shape[0] != 3:
        raise InconsistentModelError(f"{where}.probe_shape_ = {shape} is not the shape of a "
                                     "colour image (3, height, width)")
    if (shape is None) != (getattr(est, "probe_features_", None) is None):
        raise InconsistentModelError(f"{where} holds one of probe_shape_ and probe_features_ "
                                     "without the other")
