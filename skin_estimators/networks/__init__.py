"""Pure PyTorch networks (no scikit-learn, no skorch): the modules the estimators wrap.

Every public name is imported on first use (PEP 562), so that reading the backbone table
(:data:`BACKBONES`) or the weights helpers imports neither PyTorch nor timm.
"""

from .._lazy import lazy_exports

#: Public name -> the module that defines it.
_LAZY = {
    "BACKBONES": "._backbones",
    "Backbone": "._backbones",
    "backbone_of": "._backbones",
    "create_pretrained": "._backbones",
    "EFFICIENTNET_LITE_VARIANTS": "._efficientnet_lite",
    "create_efficientnet_lite": "._efficientnet_lite",
    "efficientnet_lite": "._efficientnet_lite",
    "efficientnet_lite_file": "._efficientnet_lite",
    "from_efficientnet_pytorch": "._efficientnet_lite",
    "to_efficientnet_pytorch": "._efficientnet_lite",
    "LinearTop": "._scattering_net",
    "MLP": "._mlp",
    "MorletFilterBank": "._morlet",
    "Scattering2D": "._scattering",
    "ScatteringNet": "._scattering_net",
    "VanillaCNN": "._cnn",
    "WeightsUnavailableError": "._weights",
    "WideResNetTop": "._wrn",
    "create_backbone": "._timm_backbones",
    "download_weights": "._weights",
    "pretrained_stats": "._timm_backbones",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
