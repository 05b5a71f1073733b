"""skin-estimators: scikit-learn estimators for classifying skin-disease photographs."""

from ._base import SkinNetClassifier
from ._cnn import VanillaCNNClassifier
from ._pretrained import BiTClassifier, ResNet50Classifier
from ._version import __version__
from .networks import download_weights

__all__ = [
    "BiTClassifier",
    "ResNet50Classifier",
    "SkinNetClassifier",
    "VanillaCNNClassifier",
    "download_weights",
    "__version__",
]
