"""Pure PyTorch networks (no scikit-learn, no skorch): the modules the estimators wrap."""

from ._cnn import VanillaCNN
from ._mlp import MLP
from ._morlet import MorletFilterBank
from ._scattering import Scattering2D
from ._scattering_net import LinearTop, ScatteringNet
from ._wrn import WideResNetTop

__all__ = [
    "MLP",
    "LinearTop",
    "MorletFilterBank",
    "Scattering2D",
    "ScatteringNet",
    "VanillaCNN",
    "WideResNetTop",
]
