"""ScatteringClassifier and ScatteringTransformer, used the scikit-learn way."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    ScatteringClassifier,
    ScatteringTransformer,
    clear_feature_cache,
    feature_cache_info,
    load_image_folder,
)
from skin_estimators.networks import WideResNetTop
from skin_estimators.utils.estimator_checks import make_tiny_images

SIZE = 24


@pytest.fixture(scope="module")
def skin3(skin3_root):
    data = load_image_folder(skin3_root)
    keep = np.concatenate([np.flatnonzero(data.target == c)[::3] for c in data.target_names])
    return data.filenames[keep], data.target[keep]


def _pipe(**params):
    clf = ScatteringClassifier(max_epochs=2, batch_size=8, random_state=0, **params)
    return make_pipeline(ImageLoader(size=SIZE), ChannelNormalizer(mean="study"), clf)


def test_study_defaults_and_parameter_groups():
    params = ScatteringClassifier().get_params()
    assert (params["J"], params["L"], params["max_order"], params["top"]) == (2, 8, 2, "linear")
    assert params["learnable"] and params["initialization"] == "tight-frame"
    assert (params["lr"], params["batch_size"], params["max_epochs"]) == (0.0091, 4, 22)
    assert params["augment"] == "hflip" and params["optimizer"] is torch.optim.SGD
    X, y = make_tiny_images()
    clf = ScatteringClassifier(max_epochs=1, lr_scattering=0.05).fit(X, y)
    groups = clf.optimizer_.param_groups
    wavelets = {id(p) for p in clf.module_.scattering.filters.parameters()}
    assert len(wavelets) == 4
    assert {id(p) for p in groups[0]["params"]} == wavelets
    assert groups[0]["lr"] == 0.05 and groups[0]["weight_decay"] == 0
    assert all(g["lr"] == 0.0091 for g in groups[1:])
    assert clf.get_params()["lr_scattering"] == 0.05  # fit never changes a parameter


def test_learnable_wavelets_change_and_stay_valid():
    X, y = make_tiny_images()
    clf = ScatteringClassifier(max_epochs=2, lr_scattering=0.5, random_state=0).fit(X, y)
    bank = clf.module_.scattering.filters
    assert not torch.allclose(bank.sigma, torch.tensor([0.8] * 8 + [1.6] * 8))
    assert (bank.sigma > 0).all() and (bank.slant > 0).all()


def test_invalid_parameters_fail_at_fit():
    X, y = make_tiny_images()
    for params, match in [
        ({"J": 0}, "J"),
        ({"max_order": 3}, "max_order"),
        ({"top": "mlp"}, "top"),
        ({"initialization": "kymatio"}, "initialization"),
        ({"lr_scattering": -1.0}, "lr_scattering"),
        ({"J": 5}, "at least 32x32"),
    ]:
        with pytest.raises(ValueError, match=match):
            ScatteringClassifier(max_epochs=1, **params).fit(X, y)


def test_frozen_filters_train_on_cached_coefficients(monkeypatch):
    X, y = make_tiny_images(n=12, size=16)
    clear_feature_cache()
    clf = ScatteringClassifier(learnable=False, max_epochs=3, random_state=0).fit(X, y)
    info = feature_cache_info()
    assert info.n_images == 2 * len(X)  # every image and its mirror, computed once
    assert not any(p.requires_grad for p in clf.module_.scattering.parameters())
    # A second fit (another CV fold, another grid point) reuses them: no scattering at all.
    calls = []
    scattering_cls = type(clf.module_.scattering)
    original = scattering_cls.forward
    monkeypatch.setattr(scattering_cls, "forward", lambda self, x: calls.append(1) or original(self, x))
    clone(clf).set_params(lr=0.01).fit(X, y)
    clf.predict(X)
    assert calls == []
    assert feature_cache_info().hits > info.hits


def test_frozen_cache_gives_the_uncached_model():
    X, y = make_tiny_images(n=12, size=16)
    cached = ScatteringClassifier(learnable=False, max_epochs=2, random_state=0, augment=None)
    plain = clone(cached).set_params(cache_features=False)
    p_cached = cached.fit(X, y).predict_proba(X)
    p_plain = plain.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(p_cached, p_plain, atol=2e-3)  # coefficients cached as float16


def test_model_files_hold_weights_not_cached_coefficients(tmp_path):
    X, y = make_tiny_images(n=24, size=64)
    clf = ScatteringClassifier(learnable=False, max_epochs=1, random_state=0).fit(X, y)
    weights = sum(p.numel() * p.element_size() for p in clf.module_.parameters())
    assert feature_cache_info().nbytes > 2 * weights  # what must not leak into the file
    joblib.dump(clf, tmp_path / "model.joblib")
    assert (tmp_path / "model.joblib").stat().st_size < 1.5 * weights + 1_000_000
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "params", [{}, {"learnable": False}, {"top": "wrn"}], ids=["learnable", "frozen", "wrn"]
)
def test_pickle_and_joblib_round_trip(params):
    X, y = make_tiny_images(n=12, size=16)
    clf = ScatteringClassifier(max_epochs=1, random_state=0, **params).fit(X, y)
    expected = clf.predict_proba(X)
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict_proba(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)


def test_wrn_top_fits_and_predicts():
    X, y = make_tiny_images(n=12, size=32)
    clf = ScatteringClassifier(top="wrn", max_epochs=2, random_state=0, module__width=1).fit(X, y)
    assert clf.predict(X).shape == (12,)
    n_wrn = sum(p.numel() for p in clf.module_.top.parameters())
    assert n_wrn == sum(p.numel() for p in WideResNetTop(243, 3, width=1).parameters())


def test_cross_validate_on_file_paths(skin3):
    X, y = skin3
    for learnable in (True, False):
        scores = cross_validate(
            _pipe(learnable=learnable), X, y, cv=StratifiedKFold(3, shuffle=True, random_state=42),
            scoring="recall_macro",
        )
        assert scores["test_score"].shape == (3,)
        assert np.all((scores["test_score"] >= 0) & (scores["test_score"] <= 1))


def test_grid_search(skin3):
    X, y = skin3
    grid = GridSearchCV(
        _pipe(learnable=False),
        {"scatteringclassifier__lr": [0.001, 0.01], "scatteringclassifier__top": ["linear", "wrn"]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0), scoring="recall_macro",
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert set(grid.predict(X[:5])) <= set(y)


def test_transformer_pipeline_on_file_paths(skin3):
    X, y = skin3
    pipe = make_pipeline(
        ImageLoader(size=SIZE), ChannelNormalizer(), ScatteringTransformer(J=2),
        LogisticRegression(max_iter=200),
    )
    pipe.fit(X, y)
    assert set(pipe.predict(X[:4])) <= set(y)
    assert pipe[2].transform(pipe[1].transform(pipe[0].transform(X[:2]))).shape == (2, 243 * 6 * 6)


def test_transformer_features_are_kymatios_in_kymatios_order():
    pytest.importorskip("kymatio")
    from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D

    X = np.random.RandomState(0).randn(3, 3, 20, 28).astype(np.float32)
    features = ScatteringTransformer(J=2).fit_transform(X)
    ref = ScatteringTorch2D(J=2, shape=(20, 28), L=8)(torch.from_numpy(X)).reshape(3, -1).numpy()
    assert features.shape == ref.shape and features.dtype == np.float32
    np.testing.assert_allclose(features, ref, atol=1e-4 * np.abs(ref).max())
    pooled = ScatteringTransformer(J=2, pooling=1).fit_transform(X)
    np.testing.assert_allclose(pooled, ref.reshape(3, 243, -1).mean(-1), atol=1e-4 * np.abs(ref).max())


def test_transformer_errors():
    X = np.zeros((2, 3, 16, 16), np.float32)
    with pytest.raises(ValueError, match="ImageLoader"):
        ScatteringTransformer().fit(np.array(["a.jpg", "b.jpg"]))
    with pytest.raises(ValueError, match="uint8"):
        ScatteringTransformer().fit(np.zeros((2, 3, 16, 16), np.uint8))
    with pytest.raises(ValueError, match="pooling"):
        ScatteringTransformer(pooling=0).fit(X)
    with pytest.raises(ValueError, match="at least 8x8"):
        ScatteringTransformer(J=3).fit(np.zeros((2, 3, 6, 16), np.float32))
    fitted = ScatteringTransformer().fit(X)
    with pytest.raises(ValueError, match="ImageLoader\\(size=\\(16, 16\\)\\)"):
        fitted.transform(np.zeros((2, 3, 20, 16), np.float32))
