"""Out-of-scope scores that learn from negatives (photos of other conditions): fitting with
``X_other``, the threshold at the false-alarm rate, no "other" column, the safe file."""

import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import ModelFileError, TrustedClassifier, load_model, save_model
from skin_estimators.uncertainty._negatives import fit_negatives, negatives_score


def _data():
    # three in-scope classes, negatives of three other conditions, and a held-out condition
    # near the negatives (a new condition like the known other ones)
    X, y = make_blobs(560, n_features=6, centers=7, cluster_std=1.0, random_state=3)
    X = X + 4.0
    names = np.array(list("abc") + ["n1", "n2", "n3", "new"])[y]
    inside = y < 3
    return X[inside], names[inside], X[(y >= 3) & (y < 6)], X[y == 6]


def _fitted(kind="knn_other"):
    X, y, neg, held = _data()
    inner = make_pipeline(StandardScaler(), LogisticRegression(C=0.5))
    clf = TrustedClassifier(inner, cv=3, out_of_scope=kind).fit(X, y, X_other=neg)
    return clf, X, y, neg, held


@pytest.mark.parametrize("kind", ["other_class", "knn_other"])
def test_negatives_flag_other_conditions_and_keep_the_false_alarm_rate(kind):
    clf, X, y, neg, held = _fitted(kind)
    assert clf.n_negatives_ == len(neg)
    assert clf.oos_other_coef_.shape == (4, X.shape[1])
    assert clf.oos_other_intercept_.shape == (4,)
    assert (clf.oos_combination_ is None) == (kind == "other_class")
    # the threshold is the 95 % quantile of the in-scope out-of-fold scores
    n_above = 0
    from sklearn.model_selection import StratifiedKFold
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
        fold = TrustedClassifier(clf.estimator, cv=3, out_of_scope=kind).fit(
            X[train], y[train], X_other=neg)
        n_above += int(np.sum(fold.out_of_scope_score(X[test]) > fold.oos_threshold_))
    assert n_above / len(X) <= 0.10
    inside, out = clf.out_of_scope_score(X), clf.out_of_scope_score(held)
    auc = roc_auc_score(np.r_[np.zeros(len(inside)), np.ones(len(out))], np.r_[inside, out])
    assert auc > 0.95
    assert np.mean(clf.predict_flag(held) == "out_of_scope") > 0.8


def test_threshold_is_the_quantile_of_in_scope_out_of_fold_scores():
    X, y, neg, _ = _data()
    inner = make_pipeline(StandardScaler(), LogisticRegression(C=0.5))
    clf = TrustedClassifier(inner, cv=3, out_of_scope="other_class", false_alarm_rate=0.2)
    clf.fit(X, y, X_other=neg)
    # recompute the out-of-fold scores as fit makes them
    oof = np.zeros(len(y))
    for train, test in clf._splitter(None).split(np.zeros((len(y), 1)), y):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(X[train],
                                                                               y[train])
        codes = np.searchsorted(clf.classes_, y[train])
        fitted = fit_negatives("other_class", model[:-1].transform(X[train]), codes, 3,
                               model[:-1].transform(neg))
        oof[test] = negatives_score("other_class", model[:-1].transform(X[test]), fitted)
    assert clf.oos_threshold_ == pytest.approx(np.quantile(oof, 0.8, method="higher"))


def test_probabilities_and_classes_stay_the_trained_ones():
    clf, X, y, neg, held = _fitted()
    out = clf.predict_all(held)
    assert out["proba"].shape == (len(held), 3)  # no "other" column
    np.testing.assert_allclose(out["proba"].sum(axis=1), 1.0)
    assert set(out["pred"]) <= set(clf.classes_) and set(clf.predict(neg)) <= set("abc")
    # the classifier is the one fitted without negatives
    plain = TrustedClassifier(clf.estimator, cv=3, out_of_scope="knn").fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(held), out["proba"])


def test_negatives_and_score_must_go_together():
    X, y, neg, _ = _data()
    inner = LogisticRegression()
    with pytest.raises(ValueError, match="learns from negatives; give fit X_other"):
        TrustedClassifier(inner, out_of_scope="knn_other").fit(X, y)
    with pytest.raises(ValueError, match="X_other .negatives. is used only by"):
        TrustedClassifier(inner, out_of_scope="knn").fit(X, y, X_other=neg)
    with pytest.raises(ValueError, match="out_of_scope"):
        TrustedClassifier(inner, out_of_scope="energy").fit(X, y)


def test_negatives_safe_file_round_trip(tmp_path):
    clf, X, y, neg, held = _fitted()
    path = tmp_path / "model.safetensors"
    save_model(clf, path)
    back = load_model(path)
    both = np.r_[X, held]
    np.testing.assert_allclose(back.out_of_scope_score(both), clf.out_of_scope_score(both))
    np.testing.assert_array_equal(back.predict_flag(both), clf.predict_flag(both))
    assert back.n_negatives_ == len(neg) and back.out_of_scope == "knn_other"


def _tampered(tmp_path, edit, kind="knn_other"):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence._safe import HASH_KEY, META_KEY, digest

    clf = _fitted(kind)[0]
    path = tmp_path / "model.safetensors"
    save_model(clf, path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    doc = json.loads(meta[META_KEY])
    edit(doc["estimator"]["fitted"], doc["estimator"]["params"])
    text = json.dumps(doc)
    save_file(tensors, str(path), metadata={META_KEY: text, HASH_KEY: digest(text, tensors)})
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda f, p: f.update(n_negatives_=0), "fitted on no negatives"),
    (lambda f, p: f.update(n_negatives_=-3), "n_negatives_"),
    (lambda f, p: f.update(oos_combination_=None), "oos_combination_"),
    (lambda f, p: f.update(oos_other_coef_=None), "oos_other_coef_"),
    (lambda f, p: f.update(oos_other_intercept_=[1.0, 2.0]), "oos_other_intercept_"),
    (lambda f, p: f.update(oos_neighbors_=0), "oos_neighbors_"),
    (lambda f, p: p.update(out_of_scope="knn"), "learns from no negatives"),
])
def test_inconsistent_negative_parts_are_refused(tmp_path, edit, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(_tampered(tmp_path, edit))
