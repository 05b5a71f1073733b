"""Pure PyTorch networks (no scikit-learn, no skorch): the modules the estimators wrap."""

from ._cnn import VanillaCNN
from ._mlp import MLP
from ._morlet import MorletFilterBank
from ._scattering import Scattering2D
from ._scattering_net import LinearTop, ScatteringNet
from ._timm_backbones import create_backbone, pretrained_stats
from ._weights import BACKBONES, WeightsUnavailableError, download_weights
from ._wrn import WideResNetTop

__all__ = [
    "BACKBONES",
    "LinearTop",
    "MLP",
    "MorletFilterBank",
    "Scattering2D",
    "ScatteringNet",
    "VanillaCNN",
    "WeightsUnavailableError",
    "WideResNetTop",
    "create_backbone",
    "download_weights",
    "pretrained_stats",
]
