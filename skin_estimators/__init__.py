"""skin-estimators: scikit-learn estimators for classifying skin-disease photographs."""

from ._base import SkinNetClassifier
from ._cnn import VanillaCNNClassifier
from ._pretrained import BiTClassifier, ResNet50Classifier
from ._version import __version__
from .datasets import fetch_skin3, get_data_home, load_image_folder
from .networks import download_weights
from .preprocessing import ChannelNormalizer, ImageLoader, ImageLoadError

__all__ = [
    "ChannelNormalizer",
    "ImageLoadError",
    "ImageLoader",
    "BiTClassifier",
    "ResNet50Classifier",
    "SkinNetClassifier",
    "VanillaCNNClassifier",
    "download_weights",
    "__version__",
    "fetch_skin3",
    "get_data_home",
    "load_image_folder",
]
