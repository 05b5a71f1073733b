"""Turning image files into the arrays that the estimators take.

:class:`ImageLoader` reads and resizes images (file paths to ``uint8`` ``(n, H, W, 3)``);
:class:`ChannelNormalizer` scales and normalises them (to ``float32`` ``(n, 3, H, W)``);
:class:`ScatteringTransformer` turns those into scattering coefficients for any scikit-learn
model, :class:`PretrainedFeatures` into a frozen pretrained network's pooled features.
A typical pipeline is ``make_pipeline(ImageLoader(size=400), ChannelNormalizer(), clf)``.
:class:`ScatteringTransformer` is imported on first use: the others run without PyTorch until
a network computes.
"""

from ..utils._array_cache import clear_image_cache, image_cache_info, set_image_cache_max_bytes
from ._decode import MIN_IMAGE_SIZE
from ._errors import ImageLoadError
from ._image_loader import CONTROLLED_INPUTS, ImageLoader
from ._normalizer import NORMALIZATION_PRESETS, ChannelNormalizer
from ._pretrained_features import PRETRAINED_FEATURE_MODELS, PretrainedFeatures

__all__ = [
    "CONTROLLED_INPUTS",
    "MIN_IMAGE_SIZE",
    "NORMALIZATION_PRESETS",
    "PRETRAINED_FEATURE_MODELS",
    "ChannelNormalizer",
    "ImageLoadError",
    "ImageLoader",
    "PretrainedFeatures",
    "ScatteringTransformer",
    "clear_image_cache",
    "image_cache_info",
    "set_image_cache_max_bytes",
]


def __getattr__(name):
    if name == "ScatteringTransformer":
        from ._scattering_transformer import ScatteringTransformer

        return ScatteringTransformer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
