"""The library used the way a scientist uses scikit-learn, on the study's own images (small)."""

import joblib
import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from sklearn.metrics import classification_report
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict, cross_validate
from sklearn.pipeline import make_pipeline

from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier, load_image_folder
from skin_estimators.metrics import clinical_report

SIZE = 24


@pytest.fixture(scope="module")
def skin3(skin3_root):
    data = load_image_folder(skin3_root)
    # a stratified third of the images keeps these tests fast
    keep = np.concatenate([np.flatnonzero(data.target == c)[::3] for c in data.target_names])
    return data.filenames[keep], data.target[keep]


def _pipe(**params):
    clf = VanillaCNNClassifier(max_epochs=2, batch_size=8, lr=0.01, random_state=0, **params)
    return make_pipeline(ImageLoader(size=SIZE), ChannelNormalizer(), clf)


def test_cross_validate_on_file_paths(skin3):
    X, y = skin3
    scores = cross_validate(
        _pipe(), X, y, cv=StratifiedKFold(3, shuffle=True, random_state=42),
        scoring=["recall_macro", "precision_macro"],
    )
    assert scores["test_recall_macro"].shape == (3,)
    assert np.all((scores["test_recall_macro"] >= 0) & (scores["test_recall_macro"] <= 1))


def test_grid_search_over_lr_and_batch_size(skin3):
    X, y = skin3
    grid = GridSearchCV(
        _pipe(), {"vanillacnnclassifier__lr": [0.001, 0.01], "vanillacnnclassifier__batch_size": [4, 8]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0), scoring="recall_macro",
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert set(grid.predict(X[:5])) <= set(y)


def test_classification_reports_on_out_of_fold_predictions(skin3):
    X, y = skin3
    pred = cross_val_predict(_pipe(), X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0))
    report = classification_report(y, pred, zero_division=0)
    for name in ("acne", "herpes_simplex", "lichen_planus"):
        assert name in report
    assert "spe" in clinical_report(y, pred)  # specificity, from imbalanced-learn


def test_joblib_round_trip_gives_identical_probabilities(skin3, tmp_path):
    X, y = skin3
    model = _pipe().fit(X, y)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_imbalanced_learn_resampling_in_front_of_the_loader(skin3):
    X, y = skin3
    pipe = make_imb_pipeline(
        RandomOverSampler(random_state=0),
        ImageLoader(size=SIZE),
        ChannelNormalizer(),
        VanillaCNNClassifier(max_epochs=1, class_weight=None, random_state=0),
    )
    pipe.fit(X.reshape(-1, 1), y)  # samplers need 2-D X: paths as one column
    clf = pipe[-1]
    assert clf.class_weight_ is None
    assert clf.predict(pipe[2].transform(pipe[1].transform(X[:3].reshape(-1, 1)))).shape == (3,)
