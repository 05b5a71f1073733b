"""Pure PyTorch networks (no scikit-learn, no skorch): the modules the estimators wrap."""

from ._cnn import VanillaCNN
from ._mlp import MLP

__all__ = ["MLP", "VanillaCNN"]
