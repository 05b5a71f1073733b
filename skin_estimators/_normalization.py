"""The normalisation presets: per-channel statistics by name, in one table.

A preset is written out where the library is its only source (the ``study`` preset,
measured on skin3's training photos), and otherwise names the timm checkpoint whose
``pretrained_cfg`` holds it; those are read from timm on first use, so importing the package
does not import timm. :data:`skin_estimators.preprocessing.NORMALIZATION_PRESETS`,
``ChannelNormalizer(mean=<preset>)``, the estimators' ``pretrained_mean`` / ``pretrained_std``
and the experiment configs' ``normalization`` all read this table.
"""

import functools
from collections.abc import Mapping

from .networks._backbones import BACKBONES

__all__ = ["NORMALIZATION_PRESETS", "PRESET_NAMES", "PresetStatistic", "preset_stats"]

#: Preset name -> ``{"mean": (R, G, B), "std": (R, G, B)}`` on the 0..1 scale, or the timm
#: checkpoint tag whose pretrained configuration holds them: each backbone's preset (see
#: ``skin_estimators.networks.BACKBONES``), read from the first backbone that names it
#: (ImageNet: torchvision's ResNet-50 weights; BiT and EfficientNet-Lite: inputs in [-1, 1]).
_SOURCES = {
    # Statistics of the reference study's training photos (its vanilla CNN).
    "study": {"mean": (0.6475, 0.4907, 0.4165), "std": (0.1875, 0.1598, 0.1460)},
}
for _backbone in BACKBONES.values():
    _SOURCES.setdefault(_backbone.normalization, _backbone.timm_name)
del _backbone

#: The preset names, in table order.
PRESET_NAMES = tuple(_SOURCES)


@functools.cache
def preset_stats(name):
    """``(mean, std)``, tuples of 3 floats on the 0..1 scale, of the preset ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not a preset.
    """
    source = _SOURCES[name]
    if isinstance(source, str):
        from .networks._timm_backbones import pretrained_stats

        return pretrained_stats(source)
    return tuple(source["mean"]), tuple(source["std"])


class _Presets(Mapping):
    """Read-only mapping preset name -> ``{"mean": ..., "std": ...}``, resolved on access."""

    def __getitem__(self, name):
        mean, std = preset_stats(name)
        return {"mean": mean, "std": std}

    def __contains__(self, name):
        return isinstance(name, str) and name in _SOURCES

    def __iter__(self):
        return iter(PRESET_NAMES)

    def __len__(self):
        return len(PRESET_NAMES)

    def __repr__(self):
        return f"NORMALIZATION_PRESETS({', '.join(map(repr, PRESET_NAMES))})"


NORMALIZATION_PRESETS = _Presets()


class PresetStatistic:
    """Class attribute that reads a preset's ``"mean"`` or ``"std"`` when it is first looked up.

    ``pretrained_mean = PresetStatistic("imagenet", "mean")`` gives the class (and its
    instances) the tuple, without reading timm while the class is defined.
    """

    def __init__(self, preset, which):
        if preset not in _SOURCES or which not in ("mean", "std"):
            raise ValueError(f"no statistic {which!r} of a preset {preset!r}")
        self.preset = preset
        self.which = which

    def __get__(self, obj, owner=None):
        mean, std = preset_stats(self.preset)
        return mean if self.which == "mean" else std
