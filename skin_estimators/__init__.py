"""skin-estimators: scikit-learn estimators for classifying skin-disease photographs."""

from ._base import SkinNetClassifier
from ._cnn import VanillaCNNClassifier
from ._version import __version__
from .preprocessing import ChannelNormalizer, ImageLoader, ImageLoadError

__all__ = [
    "ChannelNormalizer",
    "ImageLoadError",
    "ImageLoader",
    "SkinNetClassifier",
    "VanillaCNNClassifier",
    "__version__",
]
