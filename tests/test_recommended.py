"""The recommended model (issue 8): its recipe, scikit-learn behaviour and model files."""

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_validate

from skin_estimators import (
    ScatteringClassifier,
    load_model,
    make_recommended_classifier,
    save_model,
)
from skin_estimators.callbacks import WeightAveraging


def test_recipe_and_overrides():
    clf = make_recommended_classifier()
    assert isinstance(clf, ScatteringClassifier)
    assert (clf.learnable, clf.tta, clf.J, clf.L, clf.top) == (False, "hflip", 2, 8, "linear")
    assert (clf.lr, clf.batch_size, clf.max_epochs, clf.augment) == (0.0091, 4, 22, "hflip")
    (name, cb), = clf.callbacks
    assert name == "weight_averaging" and isinstance(cb, WeightAveraging) and cb.start == 0.5
    # Each call builds its own callback; overrides win.
    other = make_recommended_classifier(tta=None, random_state=3)
    assert other.callbacks[0][1] is not cb and other.tta is None and other.random_state == 3
    # The estimator's own defaults stay the study's.
    plain = ScatteringClassifier()
    assert (plain.learnable, plain.tta, plain.callbacks) == (True, None, None)


def test_cross_validate_and_clone(tiny_images):
    X, y = tiny_images
    clf = make_recommended_classifier(max_epochs=4, random_state=0)
    assert clone(clf).get_params()["callbacks"][0][1].start == 0.5
    scores = cross_validate(clf, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0))
    assert np.all((scores["test_score"] >= 0) & (scores["test_score"] <= 1))


def test_safe_file_round_trip_keeps_the_recipe(tiny_images, tmp_path):
    X, y = tiny_images
    clf = make_recommended_classifier(max_epochs=3, random_state=0).fit(X, y)
    path = tmp_path / "recommended.safetensors"
    save_model(clf, path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.tta == "hflip" and loaded.callbacks[0][1].start == 0.5
