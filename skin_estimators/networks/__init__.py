"""Pure PyTorch networks (no scikit-learn, no skorch): the modules the estimators wrap."""

from ._cnn import VanillaCNN
from ._efficientnet_lite import (
    EFFICIENTNET_LITE_VARIANTS,
    create_efficientnet_lite,
    efficientnet_lite,
    efficientnet_lite_file,
    from_efficientnet_pytorch,
    to_efficientnet_pytorch,
)
from ._mlp import MLP
from ._morlet import MorletFilterBank
from ._scattering import Scattering2D
from ._scattering_net import LinearTop, ScatteringNet
from ._timm_backbones import create_backbone, pretrained_stats
from ._weights import BACKBONES, WeightsUnavailableError, download_weights
from ._wrn import WideResNetTop

__all__ = [
    "BACKBONES",
    "EFFICIENTNET_LITE_VARIANTS",
    "LinearTop",
    "MLP",
    "MorletFilterBank",
    "Scattering2D",
    "ScatteringNet",
    "VanillaCNN",
    "WeightsUnavailableError",
    "WideResNetTop",
    "create_backbone",
    "create_efficientnet_lite",
    "download_weights",
    "efficientnet_lite",
    "efficientnet_lite_file",
    "from_efficientnet_pytorch",
    "pretrained_stats",
    "to_efficientnet_pytorch",
]
