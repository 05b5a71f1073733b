"""The k-nearest-neighbour out-of-scope score of TrustedClassifier, its safe file, and the
parameter constraints' messages."""

import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import ModelFileError, TrustedClassifier, load_model, save_model
from skin_estimators.uncertainty._out_of_scope import fit_knn, knn_score


def _data():
    # three in-scope classes around directions of a 6-D space, a fourth class held out
    X, y = make_blobs(400, n_features=6, centers=4, cluster_std=1.0, random_state=3)
    X = X + 4.0
    inside = y < 3
    labels = np.array(["a", "b", "c", "d"])[y]
    return X[inside], labels[inside], X[~inside]


def _fitted():
    X, y, held = _data()
    inner = make_pipeline(StandardScaler(), LogisticRegression(C=0.5))
    return TrustedClassifier(inner, cv=3, out_of_scope="knn").fit(X, y), X, held


def test_knn_score_is_the_kth_neighbour_distance_of_unit_rows():
    reference = fit_knn(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]))
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0)
    # [2, 0] normalises to [1, 0]: distances 0, sqrt(2), |[1,0]-[.707,.707]| = 0.765
    score = knn_score(np.array([[2.0, 0.0]]), reference, n_neighbors=2)
    assert score[0] == pytest.approx(np.sqrt(2 - np.sqrt(2)))
    # more neighbours than rows: the farthest row
    assert knn_score(np.array([[2.0, 0.0]]), reference, n_neighbors=9)[0] == pytest.approx(
        np.sqrt(2))


def test_knn_flags_a_held_out_class_and_keeps_the_false_alarm_rate():
    clf, X, held = _fitted()
    assert clf.oos_reference_.shape == X.shape and clf.oos_neighbors_ == 5
    assert clf.oos_means_ is None
    inside = clf.out_of_scope_score(X)
    out = clf.out_of_scope_score(held)
    auc = roc_auc_score(np.r_[np.zeros(len(inside)), np.ones(len(out))], np.r_[inside, out])
    assert auc > 0.95
    # the threshold is the 95 % quantile of out-of-fold scores: few training rows above it
    assert np.mean(inside > clf.oos_threshold_) <= 0.05
    flags = clf.predict_flag(held)
    assert np.mean(flags == "out_of_scope") > 0.8
    np.testing.assert_array_equal(clf.predict_all(held)["out_of_scope_score"], out)


def test_knn_safe_file_round_trip(tmp_path):
    clf, X, held = _fitted()
    path = tmp_path / "model.safetensors"
    save_model(clf, path)
    loaded = load_model(path)
    both = np.r_[X, held]
    np.testing.assert_array_equal(loaded.out_of_scope_score(both), clf.out_of_scope_score(both))
    np.testing.assert_array_equal(loaded.predict_flag(both), clf.predict_flag(both))


def _tampered(tmp_path, edit):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence._safe import HASH_KEY, META_KEY, digest

    clf, _, _ = _fitted()
    path = tmp_path / "model.safetensors"
    save_model(clf, path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    doc = json.loads(meta[META_KEY])
    edit(doc["estimator"]["fitted"])
    text = json.dumps(doc)
    save_file(tensors, str(path), metadata={META_KEY: text, HASH_KEY: digest(text, tensors)})
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.update(oos_neighbors_=0), "oos_neighbors_"),
    (lambda f: f.update(oos_neighbors_=2.5), "oos_neighbors_"),
    (lambda f: f.update(oos_reference_=None), "oos_reference_"),
])
def test_inconsistent_knn_parts_are_refused(tmp_path, edit, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(_tampered(tmp_path, edit))


@pytest.mark.parametrize("params, says", [
    ({"confidence_level": 1.5}, r"^TrustedClassifier: confidence_level must be .*got 1\.5"),
    ({"out_of_scope": "lof"}, r"^TrustedClassifier: out_of_scope must be .*'knn'.*got 'lof'"),
    ({"cv": 1}, r"^TrustedClassifier: cv must be .*got 1"),
    ({"estimator": StandardScaler()}, r"^TrustedClassifier: estimator must be .*predict_proba"),
])
def test_parameter_constraints_name_the_parameter(params, says):
    X, y, _ = _data()
    kw = {"estimator": LogisticRegression(), **params}
    with pytest.raises(ValueError, match=says):
        TrustedClassifier(**kw).fit(X, y)
