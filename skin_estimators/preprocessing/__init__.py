"""Turning image files into the arrays that the estimators take.

:class:`ImageLoader` reads and resizes images (file paths to ``uint8`` ``(n, H, W, 3)``);
:class:`ChannelNormalizer` scales and normalises them (to ``float32`` ``(n, 3, H, W)``);
:class:`PretrainedFeatures` turns those into a frozen pretrained network's pooled features.
A typical pipeline is ``make_pipeline(ImageLoader(size=400), ChannelNormalizer(), clf)``.
"""

from ._cache import clear_image_cache, image_cache_info, set_image_cache_max_bytes
from ._decode import MIN_IMAGE_SIZE
from ._errors import ImageLoadError
from ._image_loader import ImageLoader
from ._normalizer import NORMALIZATION_PRESETS, ChannelNormalizer
from ._pretrained_features import PRETRAINED_FEATURE_MODELS, PretrainedFeatures

__all__ = [
    "MIN_IMAGE_SIZE",
    "NORMALIZATION_PRESETS",
    "PRETRAINED_FEATURE_MODELS",
    "ChannelNormalizer",
    "ImageLoadError",
    "ImageLoader",
    "PretrainedFeatures",
    "clear_image_cache",
    "image_cache_info",
    "set_image_cache_max_bytes",
]
