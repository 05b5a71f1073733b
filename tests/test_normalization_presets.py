"""The normalisation presets live in one table, read from timm lazily where timm has them."""

import subprocess
import sys

import numpy as np
import pytest

from skin_estimators import (
    BiTClassifier,
    ChannelNormalizer,
    EfficientNetLiteClassifier,
    ResNet50Classifier,
)
from skin_estimators._normalization import _SOURCES, PRESET_NAMES, preset_stats
from skin_estimators.networks import pretrained_stats
from skin_estimators.preprocessing import NORMALIZATION_PRESETS


def test_importing_the_package_does_not_import_timm():
    code = ("import sys, skin_estimators, skin_estimators.experiments, "
            "skin_estimators.preprocessing; print('timm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", [n for n, s in _SOURCES.items() if isinstance(s, str)])
def test_timm_presets_are_timms_pretrained_configuration(name):
    assert preset_stats(name) == pretrained_stats(_SOURCES[name])
    assert NORMALIZATION_PRESETS[name] == dict(zip(("mean", "std"), pretrained_stats(_SOURCES[name])))


def test_the_mapping_lists_every_preset_and_refuses_others():
    assert tuple(NORMALIZATION_PRESETS) == PRESET_NAMES == ("study", "imagenet", "bit",
                                                            "efficientnet_lite")
    assert len(NORMALIZATION_PRESETS) == 4 and "fold" not in NORMALIZATION_PRESETS
    with pytest.raises(KeyError):
        NORMALIZATION_PRESETS["fold"]
    with pytest.raises(ValueError, match=r"^ChannelNormalizer: mean must be .*a preset name \['study', 'imagenet', 'bit', "
                                         r"'efficientnet_lite'\].*got 'fold'\.$"):
        ChannelNormalizer(mean="fold").fit(np.zeros((1, 4, 4, 3), np.uint8))


@pytest.mark.parametrize("cls, preset", [(ResNet50Classifier, "imagenet"), (BiTClassifier, "bit"),
                                         (EfficientNetLiteClassifier, "efficientnet_lite")])
def test_estimator_statistics_are_the_presets(cls, preset):
    assert (cls.pretrained_mean, cls.pretrained_std) == preset_stats(preset)
    est = cls(pretrained=False)
    assert est.pretrained_mean == cls.pretrained_mean and "pretrained_mean" not in est.get_params()
