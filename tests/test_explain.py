"""Saliency maps (Grad-CAM, gradients) and overlays at the photograph's own size."""

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.pipeline import make_pipeline

from skin_estimators import VanillaCNNClassifier
from skin_estimators.explain import explain_images, overlay, saliency_maps
from skin_estimators.preprocessing import ChannelNormalizer, ImageLoader

SIZE = 16


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = rng.randn(12, 3, SIZE, SIZE).astype("float32")
    y = np.array(["acne", "herpes", "lichen"] * 4)
    return VanillaCNNClassifier(max_epochs=1, random_state=0).fit(X, y), X


@pytest.mark.parametrize("method", ["auto", "gradcam", "gradient"])
def test_maps_have_the_input_resolution_and_range(fitted, method):
    clf, X = fitted
    maps = saliency_maps(clf, X[:3], method=method)
    assert maps.shape == (3, SIZE, SIZE) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6
    assert np.allclose(maps.reshape(3, -1).max(axis=1), 1, atol=1e-3)


def test_explaining_does_not_change_the_model(fitted):
    clf, X = fitted
    before = clf.predict_proba(X)
    state = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    saliency_maps(clf, X, method="gradcam")
    saliency_maps(clf, X, method="gradient", target="lichen")
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    for k, v in clf.module_.state_dict().items():
        assert torch.equal(v, state[k])
    assert all(p.grad is None for p in clf.module_.parameters())


def test_gradient_saliency_finds_the_pixels_the_logit_depends_on():
    """A network that only looks at one pixel: its saliency is at that pixel."""
    from skin_estimators.explain import _gradient

    class OnePixel(torch.nn.Module):
        def forward(self, x):
            return torch.stack([x[:, 0, 5, 7], -x[:, 0, 5, 7]], dim=1)

    class Holder:
        module_ = OnePixel()

    maps = _gradient(Holder(), torch.randn(2, 3, SIZE, SIZE), np.array([0, 1]))
    assert np.unravel_index(maps[0].argmax(), maps[0].shape) == (5, 7)
    assert maps[0].sum() == pytest.approx(1.0)


def test_bad_method_and_target(fitted):
    clf, X = fitted
    with pytest.raises(ValueError, match="method"):
        saliency_maps(clf, X[:1], method="lime")
    with pytest.raises(ValueError, match="eczema"):
        saliency_maps(clf, X[:1], target="eczema")


@pytest.mark.parametrize("resize", ["stretch", "pad", "crop"])
@pytest.mark.parametrize("size", [(60, 40), (40, 60)])
def test_overlay_has_the_image_size(resize, size):
    photo = Image.new("RGB", size, (200, 150, 120))
    out = overlay(photo, np.ones((SIZE, SIZE), dtype=np.float32), resize=resize)
    assert out.size == size and out.mode == "RGB"


def test_crop_overlay_leaves_the_unseen_borders_untouched():
    photo = Image.new("RGB", (60, 20), (200, 150, 120))  # crop to square sees the middle third
    out = np.asarray(overlay(photo, np.ones((SIZE, SIZE), dtype=np.float32), resize="crop"))
    assert (out[:, :15] == (200, 150, 120)).all() and (out[:, -15:] == (200, 150, 120)).all()
    assert not (out[:, 25:35] == (200, 150, 120)).all()


def test_pad_overlay_maps_the_image_region_only():
    """With padding, the map's border rows (padding) must not reach the photograph."""
    sal = np.zeros((SIZE, SIZE), dtype=np.float32)
    sal[:4] = 1.0  # all saliency in the top padding band of a wide image
    photo = Image.new("RGB", (64, 32), (200, 150, 120))  # 16x8 inside a 16x16 input
    out = np.asarray(overlay(photo, sal, resize="pad", alpha=1.0)).astype(int)
    hot = np.asarray(overlay(photo, np.ones_like(sal), resize="pad", alpha=1.0)).astype(int)
    # the photograph only gets the low end of the colour map, not the saturated top
    assert np.abs(out - hot).mean() > 50


def test_explain_images_on_files(skin3_root, tmp_path):
    data_paths = [p for c in ("acne", "lichen_planus") for p in sorted((skin3_root / c).iterdir())[:3]]
    labels = ["acne"] * 3 + ["lichen_planus"] * 3
    pipe = make_pipeline(ImageLoader(size=SIZE, resize="pad"), ChannelNormalizer(),
                         VanillaCNNClassifier(max_epochs=1, random_state=0))
    pipe.fit([str(p) for p in data_paths], labels)
    records = explain_images(pipe, [str(data_paths[0]), str(data_paths[0])], tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and len(set(names)) == 2  # same input twice: two files
    for rec in records:
        with Image.open(rec["overlay_path"]) as im, Image.open(data_paths[0]) as src:
            assert im.size == src.size
        assert rec["pred_class"] in ("acne", "lichen_planus") and rec["error"] is None


def test_gradcam_layer_is_not_a_convolutional_head():
    """BiT-style networks classify with a 1x1 Conv2d: Grad-CAM must look before it."""
    from skin_estimators.explain import _target_layers

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Conv2d(3, 4, 3)
            self.head = torch.nn.Conv2d(4, 2, 1)

        def get_classifier(self):
            return self.head

    class Holder:
        module_ = Net()

    assert _target_layers(Holder()) == [Holder.module_.features]
