"""skin-estimators: scikit-learn estimators for classifying skin-disease photographs."""

from ._base import SkinNetClassifier
from ._cnn import VanillaCNNClassifier
from ._feature_cache import clear_feature_cache, feature_cache_info, set_feature_cache_max_bytes
from ._scattering import ScatteringClassifier
from ._scattering_transformer import ScatteringTransformer
from ._version import __version__
from .datasets import fetch_skin3, get_data_home, load_image_folder
from .preprocessing import ChannelNormalizer, ImageLoader, ImageLoadError

__all__ = [
    "ChannelNormalizer",
    "ImageLoadError",
    "ImageLoader",
    "ScatteringClassifier",
    "ScatteringTransformer",
    "SkinNetClassifier",
    "VanillaCNNClassifier",
    "__version__",
    "clear_feature_cache",
    "feature_cache_info",
    "fetch_skin3",
    "get_data_home",
    "load_image_folder",
    "set_feature_cache_max_bytes",
]
