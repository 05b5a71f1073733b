"""skin-estimators: scikit-learn estimators for classifying skin-disease photographs.

The public API: four image classifiers on a shared skorch base, image transformers, the
study's dataset, model files and the pretrained-weights helper. Optional components
(MLflow tracking, Dask) live in :mod:`skin_estimators.experiments` and are imported lazily.
"""

from ._version import __version__
from .classifiers import (
    BiTClassifier,
    EfficientNetLiteClassifier,
    ResNet50Classifier,
    ScatteringClassifier,
    SkinNetClassifier,
    VanillaCNNClassifier,
    make_recommended_classifier,
)
from .datasets import fetch_skin3, get_data_home, load_image_folder
from .networks import download_weights
from .persistence import ModelFileError, load_model, save_model
from .uncertainty import TrustedClassifier
from .preprocessing import (
    ChannelNormalizer,
    ImageLoader,
    ImageLoadError,
    PretrainedFeatures,
    ScatteringTransformer,
)
from .utils._coefficient_cache import (
    clear_feature_cache,
    feature_cache_info,
    set_feature_cache_max_bytes,
)

__all__ = [
    "BiTClassifier",
    "ChannelNormalizer",
    "EfficientNetLiteClassifier",
    "ImageLoadError",
    "ImageLoader",
    "ModelFileError",
    "PretrainedFeatures",
    "ResNet50Classifier",
    "ScatteringClassifier",
    "ScatteringTransformer",
    "SkinNetClassifier",
    "TrustedClassifier",
    "VanillaCNNClassifier",
    "__version__",
    "clear_feature_cache",
    "download_weights",
    "feature_cache_info",
    "fetch_skin3",
    "get_data_home",
    "load_image_folder",
    "load_model",
    "make_recommended_classifier",
    "save_model",
    "set_feature_cache_max_bytes",
]
