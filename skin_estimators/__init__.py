"""skin-estimators: scikit-learn estimators for classifying skin-disease photographs."""

from ._base import SkinNetClassifier
from ._cnn import VanillaCNNClassifier
from ._version import __version__
from .datasets import fetch_skin3, get_data_home, load_image_folder
from .preprocessing import ChannelNormalizer, ImageLoader, ImageLoadError

__all__ = [
    "ChannelNormalizer",
    "ImageLoadError",
    "ImageLoader",
    "SkinNetClassifier",
    "VanillaCNNClassifier",
    "__version__",
    "fetch_skin3",
    "get_data_home",
    "load_image_folder",
]
