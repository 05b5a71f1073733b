"""DomainAdapter and adapt_model: adaptation to a new clinic's unlabelled features."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import TrustedClassifier, load_model, save_model
from skin_estimators.adaptation import (
    METHODS,
    MIN_TARGET,
    AdaptationError,
    DomainAdapter,
    adapt_model,
    adaptation_info,
    adapter_of,
)
from skin_estimators.exceptions import InconsistentModelError


def _data(n=90, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = np.repeat(["a", "b", "c"], n // 3)
    X[y == "b", 0] += 2.5
    X[y == "c", 1] += 2.5
    return X, y


def _trusted(X, y, **params):
    est = make_pipeline(DomainAdapter(**params), StandardScaler(), LogisticRegression())
    return TrustedClassifier(est, conformal="cross", out_of_scope="knn", cv=3).fit(X, y)


def test_identity_until_adapted_then_affine():
    X, y = _data()
    adapter = DomainAdapter().fit(X, y)
    np.testing.assert_array_equal(adapter.transform(X), X)
    assert adapter.n_target_ == 0 and adapter.offset_ is None
    np.testing.assert_array_equal(adapter.source_labels_, y)
    target = 3 + 2 * X[:50]
    adapted_source = adapter.adapt(target)
    np.testing.assert_allclose(adapted_source.mean(axis=0), 0, atol=1e-6)
    out = adapter.transform(target)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, rtol=1e-5)


def test_standardize_is_skadas_per_domain_scaler():
    from skada import PerDomain

    X, _ = _data()
    target = 1 + 3 * _data(seed=1)[0][:45]
    adapter = DomainAdapter().fit(X)
    adapter.adapt(target)
    both = np.vstack([X, target])
    domain = np.r_[np.ones(len(X), int), -np.ones(len(target), int)]
    expected = PerDomain(StandardScaler()).fit(both, None, sample_domain=domain).transform(
        both, sample_domain=domain)
    np.testing.assert_allclose(adapter.transform(target), expected[len(X):], atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_finite_features_of_the_declared_size(method):
    X, y = _data()
    adapter = DomainAdapter(method=method).fit(X, y)
    source = adapter.adapt(2 * _data(seed=2)[0][:48] + 1)
    out = adapter.transform(X[:5])
    assert np.isfinite(source).all() and np.isfinite(out).all()
    assert source.shape == (len(X), adapter.n_features_out_)
    assert out.shape == (5, adapter.n_features_out_)
    assert adapter.get_feature_names_out().shape == (adapter.n_features_out_,)


def test_clone_and_params():
    adapter = DomainAdapter(method="coral", min_target=50)
    assert clone(adapter).get_params() == {"method": "coral", "n_components": None,
                                           "min_target": 50}
    with pytest.raises(ValueError, match="method"):
        DomainAdapter(method="adabn").fit(_data()[0])


def test_too_few_photos_is_one_clear_line_and_44_is_enough():
    assert MIN_TARGET <= 44
    X, y = _data()
    adapter = DomainAdapter().fit(X, y)
    with pytest.raises(AdaptationError, match=f"at least {MIN_TARGET} photos.*got 39") as info:
        adapter.adapt(X[:39])
    assert "\n" not in str(info.value)
    adapter.adapt(X[:44])
    assert adapter.n_target_ == 44


def test_nan_features_are_refused():
    X, y = _data()
    adapter = DomainAdapter().fit(X, y)
    bad = X[:50].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        adapter.adapt(bad)


@pytest.mark.parametrize("method", METHODS)
def test_order_of_the_photos_does_not_matter(method):
    X, y = _data()
    target = 1 + 2 * _data(seed=3)[0][:60]
    keys = [f"{i:03d}" for i in range(60)]
    perm = np.random.RandomState(0).permutation(60)
    a = DomainAdapter(method=method).fit(X, y)
    b = clone(a).fit(X, y)
    sa = a.adapt(target, keys=keys)
    sb = b.adapt(target[perm], keys=[keys[i] for i in perm])
    assert a.target_digest_ == b.target_digest_
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_composes_with_trusted_classifier_and_never_stacks():
    X, y = _data()
    clf = _trusted(X, y)
    assert clf.frozen_steps_ == 1  # the adapter is fitted once and shared by the folds
    target = 3 + 1.5 * X
    before = np.mean(clf.predict(target) == y)
    adapted = adapt_model(clf, target)
    assert adapter_of(clf).n_target_ == 0  # the original is left as it was
    assert np.mean(adapted.predict(target) == y) > before
    out = adapted.predict_all(target)
    assert out["sets"].shape == (len(y), 3)
    assert set(out["flag"]) <= {"confident", "uncertain", "out_of_scope"}
    assert adapted.frozen_steps_ == 1 and len(adapted.estimators_) == 3
    np.testing.assert_array_equal(adapted.calibration_folds_, clf.calibration_folds_)
    assert adapted.get_params()["cv"] == 3
    other = 5 - X[:60]
    twice = adapt_model(adapted, other)
    once = adapt_model(clf, other)
    np.testing.assert_allclose(twice.predict_proba(X), once.predict_proba(X), atol=1e-12)
    assert adaptation_info(twice)["n_photos"] == 60


def test_plain_pipeline_is_refitted_too():
    X, y = _data()
    pipe = make_pipeline(DomainAdapter(method="coral"), StandardScaler(),
                         LogisticRegression()).fit(X, y)
    adapted = adapt_model(pipe, 2 + X)
    assert adapter_of(adapted).n_target_ == len(X)
    assert adapted.predict(2 + X).shape == (len(X),)


def test_a_model_without_adapter_is_refused():
    X, y = _data()
    clf = TrustedClassifier(make_pipeline(StandardScaler(), LogisticRegression()), cv=3).fit(X, y)
    assert adapter_of(clf) is None and adaptation_info(clf) is None
    with pytest.raises(AdaptationError, match="no adaptation step"):
        adapt_model(clf, X)


@pytest.mark.parametrize("method", ["standardize", "subspace"])
def test_safe_file_round_trip(tmp_path, method):
    X, y = _data()
    adapted = adapt_model(_trusted(X, y), 1 + 2 * X, method=method)
    path = tmp_path / "adapted.safetensors"
    save_model(adapted, path)
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict_proba(X), adapted.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(loaded.predict_set(X), adapted.predict_set(X))
    assert adaptation_info(loaded) == adaptation_info(adapted)


def test_load_checks_refuse_an_inconsistent_adapter():
    from skin_estimators.adaptation._adapter_state import check_adapter

    X, y = _data()
    adapter = DomainAdapter().fit(X, y)
    check_adapter(adapter, "model")
    adapter.adapt(X + 1)
    check_adapter(adapter, "model")
    for attr, value, match in [("scale_", -adapter.scale_, "positive"),
                               ("offset_", adapter.offset_[:3], "shape"),
                               ("target_digest_", "abc", "SHA-256"),
                               ("source_labels_", y[:5], "label")]:
        bad = clone(adapter)
        bad.__dict__.update(adapter.__dict__)
        setattr(bad, attr, value)
        with pytest.raises(InconsistentModelError, match=match):
            check_adapter(bad, "model")
    unadapted = DomainAdapter().fit(X, y)
    unadapted.target_digest_ = "0" * 64
    with pytest.raises(InconsistentModelError, match="n_target_ = 0"):
        check_adapter(unadapted, "model")


def test_command_line_methods_are_the_librarys():
    from skin_estimators._commands.adapt import METHODS as CLI_METHODS

    assert tuple(CLI_METHODS) == tuple(METHODS)


def test_skada_leaves_scikit_learns_metadata_routing_as_it_was():
    import sklearn

    X, y = _data()
    assert not sklearn.get_config()["enable_metadata_routing"]
    adapt_model(_trusted(X, y), 1 + X, method="coral")
    assert not sklearn.get_config()["enable_metadata_routing"]
    # a routed fit parameter, as train passes the groups, still works afterwards
    from sklearn.pipeline import make_pipeline as pipe

    model = pipe(StandardScaler(), TrustedClassifier(LogisticRegression(), cv=3))
    model.fit(X, y, trustedclassifier__groups=np.arange(len(y)) % 9)


def test_a_score_that_learned_from_negatives_is_refitted_on_them_mapped(tmp_path):
    from sklearn.metrics import roc_auc_score

    X, y = _data()
    negatives = np.random.RandomState(5).randn(60, 6) + [0, 0, 4, 0, 0, 0]  # another condition
    est = make_pipeline(DomainAdapter(), StandardScaler(), LogisticRegression())
    model = TrustedClassifier(est, conformal="cross", out_of_scope="knn_other", cv=3)
    model.fit(X, y, X_other=negatives)
    np.testing.assert_allclose(model.negative_features_, negatives, rtol=1e-6)
    save_model(model, tmp_path / "model.safetensors")
    model = load_model(tmp_path / "model.safetensors")
    clinic, clinic_other = 3 + 2 * X[:60], 3 + 2 * negatives  # through the clinic's camera
    adapted = adapt_model(model, clinic)
    assert adapted.n_negatives_ == len(negatives) and adapted.oos_other_coef_ is not None
    np.testing.assert_array_equal(adapted.negative_features_, model.negative_features_)
    scores = np.r_[adapted.out_of_scope_score(clinic), adapted.out_of_scope_score(clinic_other)]
    assert roc_auc_score(np.r_[np.zeros(60), np.ones(60)], scores) > 0.9
    again = adapt_model(adapted, clinic)  # replaces, never stacks
    np.testing.assert_allclose(again.out_of_scope_score(clinic_other),
                               adapted.out_of_scope_score(clinic_other), rtol=1e-6)
    with pytest.raises(AdaptationError, match="'standardize' only"):
        adapt_model(model, clinic, method="coral")
