"""One table of architectures: everything that lists them derives from it, and adding one
takes its network module, its estimator module and one registry entry."""

import textwrap

import numpy as np
import pytest
from PIL import Image

import skin_estimators
from skin_estimators import _registry, load_model
from skin_estimators._persistence import _registry as safe_registry
from skin_estimators.cli import main
from skin_estimators.experiments import MODELS, available_models, resolve_model
from skin_estimators.experiments._registry import default_normalization
from skin_estimators.preprocessing import NORMALIZATION_PRESETS

NETWORK_MODULE = '''
import torch
from torch import nn


class ToyNet(nn.Module):
    """Mean colour of the image -> class scores."""

    def __init__(self, n_classes=3):
        super().__init__()
        self.fc = nn.Linear(3, n_classes)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))
'''

ESTIMATOR_MODULE = '''
from skin_estimators import SkinNetClassifier
from toy_networks import ToyNet


class ToyClassifier(SkinNetClassifier):
    _image_input = True
    _min_image_size = 1

    def __init__(self, module=ToyNet, *args, lr=0.1, max_epochs=3, batch_size=4, **kwargs):
        super().__init__(module, *args, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         **kwargs)
'''


def test_every_entry_resolves_to_its_estimator_and_network():
    for name, arch in _registry.ARCHITECTURES.items():
        est = _registry.estimator_of(name)
        assert est is getattr(skin_estimators, est.__name__), name
        if arch.network is not None:
            assert _registry.network_of(name) is getattr(skin_estimators.networks,
                                                         _registry.network_of(name).__name__)
            import inspect

            assert inspect.signature(est).parameters["module"].default \
                is _registry.network_of(name)
        assert arch.normalization == "fold" or arch.normalization in NORMALIZATION_PRESETS


def test_derived_tables_follow_the_registry():
    assert list(MODELS) == list(_registry.ARCHITECTURES) == available_models()
    for name, arch in _registry.ARCHITECTURES.items():
        assert resolve_model(name) is _registry.estimator_of(name)
        assert default_normalization(name) == arch.normalization
        cls = _registry.estimator_of(name)
        if isinstance(cls, type):
            assert safe_registry.estimator_class(f"skin_estimators.{cls.__name__}") is cls
            assert cls.__name__ in safe_registry.estimator_names()
    for cls, preset in [(skin_estimators.ResNet50Classifier, "resnet50"),
                        (skin_estimators.BiTClassifier, "bit"),
                        (skin_estimators.EfficientNetLiteClassifier, "efficientnet_lite")]:
        stats = NORMALIZATION_PRESETS[_registry.ARCHITECTURES[preset].normalization]
        assert (cls.pretrained_mean, cls.pretrained_std) == (stats["mean"], stats["std"])


def test_the_cli_help_lists_the_registry_names(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert " | ".join(_registry.ARCHITECTURES) in capsys.readouterr().out


@pytest.fixture
def toy_architecture(tmp_path, monkeypatch):
    """A new architecture: its network module, its estimator module, one registry entry."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "toy_networks.py").write_text(textwrap.dedent(NETWORK_MODULE))
    (code / "toy_estimators.py").write_text(textwrap.dedent(ESTIMATOR_MODULE))
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setitem(_registry.ARCHITECTURES, "toy", _registry.Architecture(
        "toy", "toy_estimators:ToyClassifier", "toy_networks:ToyNet", "fold"))
    return _registry.estimator_of("toy")


def _tiny_image_folder(root):
    rng = np.random.RandomState(0)
    for k, cls in enumerate(["red", "green", "blue"]):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            pixels = rng.randint(0, 80, (8, 8, 3)).astype(np.uint8)
            pixels[..., k] += 160
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


def test_a_toy_architecture_trains_through_the_cli_and_round_trips_safely(
        toy_architecture, tmp_path, capsys):
    assert "toy" in available_models() and resolve_model("toy") is toy_architecture
    data = _tiny_image_folder(tmp_path / "images")
    config = tmp_path / "toy.yaml"
    config.write_text(f"data: {{path: {data}}}\nimage_size: 8\n"
                      "models:\n  - name: toy\n    params: {max_epochs: 1, random_state: 0}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"),
                 "--test-size", "0", "-q"]) == 0
    path = tmp_path / "run" / "model.safetensors"
    model = load_model(path)
    clf = model[-1]
    assert type(clf) is toy_architecture and clf.max_epochs == 1
    assert type(clf.module_).__name__ == "ToyNet"
    assert list(clf.classes_) == ["blue", "green", "red"]
    files = sorted(str(p) for p in data.rglob("*.png"))
    proba = model.predict_proba(files)
    assert proba.shape == (12, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-6)
    # the safe file names the new classes by the registry's entry, and nothing else loads
    assert safe_registry.type_name(clf.module) == "toy_networks:ToyNet"
    assert "skin_estimators.ToyClassifier" in path.read_bytes().decode("latin-1")
