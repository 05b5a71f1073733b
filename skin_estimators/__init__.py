"""skin-estimators: scikit-learn estimators for classifying skin-disease photographs."""

from ._base import SkinNetClassifier
from ._cnn import VanillaCNNClassifier
from ._version import __version__
from .persistence import ModelFileError, load_model, save_model

__all__ = [
    "SkinNetClassifier",
    "VanillaCNNClassifier",
    "ModelFileError",
    "__version__",
    "load_model",
    "save_model",
]
