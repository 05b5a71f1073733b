"""skin-estimators: scikit-learn estimators for classifying skin-disease photographs.

The public API: the image classifiers on a shared skorch base, image transformers, the
skin3 dataset, model files and the pretrained-weights helper. Optional components
(MLflow tracking, Dask) live in :mod:`skin_estimators.experiments`.

Every public name is imported on first use (PEP 562): ``import skin_estimators`` loads
neither PyTorch nor scikit-learn, so a command that needs neither (``predict`` with a
network graph already cached for ONNX Runtime, ``--help``) starts in a fraction of a
second, and ``from skin_estimators import X`` works as for any package.
"""

from ._lazy import lazy_exports
from ._version import __version__

#: Public name -> the module that defines it.
_LAZY = {
    "BackboneClassifier": ".classifiers",
    "BiTClassifier": ".classifiers",
    "EfficientNetLiteClassifier": ".classifiers",
    "ResNet50Classifier": ".classifiers",
    "ScatteringClassifier": ".classifiers",
    "SkinNetClassifier": ".classifiers",
    "VanillaCNNClassifier": ".classifiers",
    "make_recommended_classifier": ".classifiers",
    "fetch_sd198": ".datasets",
    "fetch_skin3": ".datasets",
    "get_data_home": ".datasets",
    "load_image_folder": ".datasets",
    "download_weights": ".networks",
    "ModelFileError": ".persistence",
    "SkinEstimatorsError": ".exceptions",
    "load_model": ".persistence",
    "save_model": ".persistence",
    "TrustedClassifier": ".uncertainty",
    "DomainAdapter": ".adaptation",
    "ChannelNormalizer": ".preprocessing",
    "ImageLoader": ".preprocessing",
    "ImageLoadError": ".preprocessing",
    "PretrainedFeatures": ".preprocessing",
    "ScatteringTransformer": ".preprocessing",
    "clear_feature_cache": ".utils._coefficient_cache",
    "feature_cache_info": ".utils._coefficient_cache",
    "set_feature_cache_max_bytes": ".utils._coefficient_cache",
}

__all__ = sorted([*_LAZY, "__version__"])


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
