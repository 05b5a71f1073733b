"""Cross-conformal prediction sets (TrustedClassifier(conformal="cross")) and the frozen
leading steps that the fold models share."""

import json
import os

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import ModelFileError, TrustedClassifier, load_model, save_model
from skin_estimators.uncertainty import coverage
from skin_estimators.uncertainty._cross import (
    cross_conformal_pvalues,
    frozen_prefix_length,
    learns_from_data,
)


class _Frozen(TransformerMixin, BaseEstimator):
    """A transformer that learns nothing (doubles its input) and counts its fits."""

    _fit_learns_from_data = False
    fits = 0

    def fit(self, X, y=None):
        type(self).fits += 1
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return 2.0 * np.asarray(X, dtype=float)


def _data(n=300, seed=0):
    X, y = make_classification(n, n_features=6, n_informative=3, n_classes=3,
                               n_clusters_per_class=1, class_sep=0.7, random_state=seed)
    return X, np.array(["acne", "herpes_simplex", "lichen_planus"])[y]


def _pipe():
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.5))


def test_pvalues_follow_the_formula():
    """Vovk's p-value, brute force: (1 + #{i in fold j, y_i = k, s_i >= s_j(x, k)}) / (n_k + 1)."""
    rng = np.random.RandomState(0)
    scores = rng.rand(40).round(1)  # rounded: ties between calibration and new scores
    folds, labels = rng.randint(0, 4, 40), rng.randint(0, 3, 40)
    new = rng.rand(4, 7, 3).round(1)
    got = cross_conformal_pvalues(new, scores, folds, labels)
    for x in range(7):
        for k in range(3):
            count = sum(int(s >= new[f, x, k]) for s, f, lab in zip(scores, folds, labels)
                        if lab == k)
            assert got[x, k] == pytest.approx((1 + count) / (1 + (labels == k).sum()))
    marginal = cross_conformal_pvalues(new, scores, folds, labels, mondrian=False)
    count = sum(int(s >= new[f, 0, 1]) for s, f in zip(scores, folds))
    assert marginal[0, 1] == pytest.approx((1 + count) / 41)


@pytest.mark.parametrize("mondrian", [True, False])
def test_coverage_on_exchangeable_data(mondrian):
    """Mean coverage over random splits of exchangeable data is at least the level - 0.02
    (measured: about 0.90-0.91 for both at level 0.9)."""
    X, y = _data(1200, seed=1)
    covered = []
    for seed in range(20):
        Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=200, test_size=300,
                                              random_state=seed)
        clf = TrustedClassifier(LogisticRegression(C=0.5), conformal="cross", cv=5,
                                mondrian=mondrian, calibration=None, out_of_scope=None,
                                random_state=seed).fit(Xtr, ytr)
        covered.append(coverage(yte, clf.predict_set(Xte), clf.classes_)[0])
    assert np.mean(covered) >= 0.9 - 0.02
    assert np.mean(covered) <= 0.97  # sets are not simply everything


def test_probabilities_and_predict_are_the_refitted_models():
    X, y = _data()
    split = TrustedClassifier(_pipe(), cv=3, out_of_scope="knn").fit(X, y)
    cross = TrustedClassifier(_pipe(), cv=3, out_of_scope="knn", conformal="cross").fit(X, y)
    np.testing.assert_array_equal(cross.predict_proba(X), split.predict_proba(X))
    np.testing.assert_array_equal(cross.predict(X), split.predict(X))
    np.testing.assert_array_equal(cross.out_of_scope_score(X), split.out_of_scope_score(X))
    np.testing.assert_array_equal(cross.quantiles_, split.quantiles_)
    assert split.estimators_ is None and len(cross.estimators_) == 3
    assert cross.calibration_scores_.shape == cross.calibration_folds_.shape == (len(y),)
    np.testing.assert_array_equal(np.bincount(cross.calibration_folds_, minlength=3) > 0, True)
    everything = cross.predict_all(X)
    np.testing.assert_array_equal(everything["sets"], cross.predict_set(X))
    np.testing.assert_array_equal(cross.conformal_sets(X), cross.predict_set(X))
    # split sets are the quantiles on the refitted model's probabilities, as ever
    np.testing.assert_array_equal(split.predict_set(X),
                                  1 - split.predict_proba(X) <= split.quantiles_ + 1e-12)


def test_frozen_steps_are_fitted_once_and_shared():
    X, y = _data()
    _Frozen.fits = 0
    pipe = make_pipeline(_Frozen(), StandardScaler(), LogisticRegression(C=0.5))
    assert frozen_prefix_length(pipe) == 1 and not learns_from_data(_Frozen())
    assert learns_from_data(StandardScaler()) and frozen_prefix_length(_pipe()) == 0
    clf = TrustedClassifier(pipe, cv=3, conformal="cross", out_of_scope="knn").fit(X, y)
    assert _Frozen.fits == 1 and clf.frozen_steps_ == 1
    assert [type(s).__name__ for s in clf.estimators_[0].named_steps.values()] == [
        "StandardScaler", "LogisticRegression"]
    assert isinstance(clf.estimator_[0], _Frozen) and len(clf.estimator_.steps) == 3
    # the same numbers as without the shared step (it only doubles the features)
    plain = TrustedClassifier(_pipe(), cv=3, conformal="cross", out_of_scope="knn").fit(
        2.0 * X, y)
    np.testing.assert_allclose(clf.predict_proba(X), plain.predict_proba(2.0 * X))
    np.testing.assert_array_equal(clf.predict_set(X), plain.predict_set(2.0 * X))
    np.testing.assert_allclose(clf.out_of_scope_score(X), plain.out_of_scope_score(2.0 * X))


def test_cross_rejects_a_splitter_that_is_not_a_partition():
    from sklearn.model_selection import ShuffleSplit

    X, y = _data(120)
    clf = TrustedClassifier(_pipe(), cv=ShuffleSplit(3, test_size=0.5, random_state=0),
                            conformal="cross")
    with pytest.raises(ValueError, match="more than one test fold|leaves some out"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="conformal"):
        TrustedClassifier(_pipe(), conformal="jackknife").fit(X, y)


def _saved_cross(tmp_path):
    X, y = _data()
    clf = TrustedClassifier(_pipe(), cv=3, conformal="cross", out_of_scope="knn").fit(X, y)
    path = tmp_path / "model.safetensors"
    save_model(clf, path)
    return clf, X, path


def test_safe_file_round_trip(tmp_path):
    clf, X, path = _saved_cross(tmp_path)
    loaded = load_model(path)
    assert loaded.conformal == "cross" and len(loaded.estimators_) == 3
    np.testing.assert_array_equal(loaded.predict_set(X), clf.predict_set(X))
    np.testing.assert_array_equal(loaded.predict_flag(X), clf.predict_flag(X))
    np.testing.assert_array_equal(loaded.calibration_folds_, clf.calibration_folds_)


def _tamper(path, edit):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence._safe import HASH_KEY, META_KEY, digest

    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    doc = json.loads(meta[META_KEY])
    edit(doc["estimator"])
    text = json.dumps(doc)
    save_file(tensors, str(path), metadata={META_KEY: text, HASH_KEY: digest(text, tensors)})


def _narrow_fold_model():
    """The description of a (consistent) fold model fitted on 4 features instead of 6."""
    from skin_estimators._persistence._safe import describe

    X, y = _data()
    return describe(_pipe().fit(X[:, :4], y), {})


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["fitted"]["calibration_scores_"]["__ndarray__"].__setitem__(0, 1.5),
     "calibration_scores_ holds 1.5, above its maximum 1.0"),
    (lambda s: s["fitted"]["calibration_folds_"]["__ndarray__"].__setitem__(0, 7),
     "calibration_folds_ holds 7, above its maximum 2"),
    (lambda s: s["fitted"]["calibration_labels_"]["__ndarray__"].__setitem__(0, -1),
     "calibration_labels_ holds -1, below its minimum 0"),
    (lambda s: s["fitted"]["calibration_folds_"].update(__ndarray__=[0, 1], shape=[2]),
     "calibration_folds_ has shape"),
    (lambda s: s.pop("estimators"), "no fold models"),
    (lambda s: s.update(estimators={}), "not a list of 1 to"),
    (lambda s: s["params"].update(conformal="split"), "conformal='split'"),
    (lambda s: s["fitted"].update(frozen_steps_=5), "frozen_steps_"),
    (lambda s: s["estimators"].__setitem__(0, _narrow_fold_model()), "takes 4 features"),
    (lambda s: s["estimator"].update(estimators=[s["estimators"][0]]), "keeps no fold models"),
])
def test_inconsistent_cross_parts_are_refused(tmp_path, edit, message):
    _, _, path = _saved_cross(tmp_path)
    _tamper(path, edit)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


@pytest.fixture(scope="module")
def cross_run(train_on_skin3_subset):
    """``train`` from a config with ``trust: {conformal: cross}`` on 8 photos per class."""
    run, root = train_on_skin3_subset(
        "{confidence_level: 0.8, out_of_scope: knn, cv: 3, conformal: cross}", "cross")
    return run / "model.safetensors", root


def test_cli_predict_evaluate_info_use_the_cross_sets(cross_run, tmp_path, capsys):
    import csv

    from safetensors import safe_open

    from skin_estimators.cli import main

    path, root = cross_run
    model = load_model(path)
    clf = model[-1]
    assert clf.conformal == "cross" and clf.frozen_steps_ == 2 and len(clf.estimators_) == 3
    # the frozen features and the (unadapted) DomainAdapter are fitted once, shared
    # the backbone is stored once: the fold models are the scaler and the linear model
    with safe_open(str(path), framework="pt") as f:
        assert not [k for k in f.keys() if ".estimators." in k]
    assert [type(s).__name__ for s in clf.estimators_[0].named_steps.values()] == [
        "StandardScaler", "LogisticRegression"]
    files = sorted(str(p) for p in root.glob("*/*"))
    expected = clf.predict_set(model[:-1].transform(files))
    out = tmp_path / "p.csv"
    assert main(["predict", str(path), *files, "--out", str(out), "--quiet"]) == 0
    with open(out, newline="") as f:
        rows = {r["image_path"]: r for r in csv.DictReader(f)}
    for file, members in zip(files, expected, strict=True):
        assert rows[file]["prediction_set"] == "|".join(clf.classes_[members])
    from skin_estimators.audit import evaluate_model

    y = [os.path.basename(os.path.dirname(f)) for f in files]
    trust = evaluate_model(model, files, y).trust
    np.testing.assert_array_equal(trust.sets, expected)
    assert trust.coverage == pytest.approx(coverage(np.array(y), expected, clf.classes_)[0])
    assert main(["info", str(path)]) == 0
    assert "sets: cross-conformal: each of the 3 fold models" in capsys.readouterr().out
