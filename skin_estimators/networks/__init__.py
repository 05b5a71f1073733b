"""Pure PyTorch networks (no scikit-learn, no skorch): the modules the estimators wrap."""

from ._cnn import VanillaCNN
from ._mlp import MLP
from ._timm_backbones import create_backbone, pretrained_stats
from ._weights import BACKBONES, WeightsUnavailableError, download_weights

__all__ = [
    "BACKBONES",
    "MLP",
    "VanillaCNN",
    "WeightsUnavailableError",
    "create_backbone",
    "download_weights",
    "pretrained_stats",
]
