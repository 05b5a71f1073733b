"""A TrustedClassifier in the safe model file: arrays and numbers, no pickle; checked on load."""

import json

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import ModelFileError, TrustedClassifier, load_model, save_model


def _fitted(**params):
    X, y = make_classification(300, n_features=6, n_informative=3, n_classes=3,
                               n_clusters_per_class=1, random_state=0)
    labels = np.array(["acne", "herpes_simplex", "lichen_planus"])[y]
    inner = make_pipeline(StandardScaler(), LogisticRegression(C=0.5))
    return TrustedClassifier(inner, cv=3, **params).fit(X, labels), X


@pytest.mark.parametrize("params", [
    {}, {"calibration": "sigmoid", "out_of_scope": "max_proba"},
    {"calibration": None, "out_of_scope": None, "mondrian": False},
])
def test_safe_file_round_trip(tmp_path, params):
    model, X = _fitted(**params)
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    loaded = load_model(path)
    assert type(loaded) is TrustedClassifier
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    assert loaded.estimator.get_params()["logisticregression__C"] == 0.5
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict_set(X), model.predict_set(X))
    np.testing.assert_array_equal(loaded.predict_flag(X), model.predict_flag(X))
    np.testing.assert_array_equal(loaded.out_of_scope_score(X), model.out_of_scope_score(X))
    assert loaded.cv_description_ == model.cv_description_
    assert b"pickle" not in path.read_bytes()[:64]


def _tampered(tmp_path, edit):
    """Save, change the description with ``edit`` (re-hashing it), return the path."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence._safe import HASH_KEY, META_KEY, digest

    model, _ = _fitted()
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    doc = json.loads(meta[META_KEY])
    edit(doc["estimator"])
    text = json.dumps(doc)
    save_file(tensors, str(path), metadata={META_KEY: text, HASH_KEY: digest(text, tensors)})
    return path


def _fitted_entry(spec, name):
    return spec["fitted"][name]


@pytest.mark.parametrize("edit, message", [
    (lambda s: _fitted_entry(s, "quantiles_").update(__ndarray__=[0.5, 2.0, 0.5]),
     "quantiles_ holds 2.0, above its maximum 1.0"),
    (lambda s: _fitted_entry(s, "quantiles_").update(__ndarray__=[0.5, 0.5], shape=[2]),
     "quantiles_ has shape"),
    (lambda s: _fitted_entry(s, "calibration_params_").update(__ndarray__=[-1.0]),
     "inverse temperature"),
    (lambda s: _fitted_entry(s, "oos_variances_")["__ndarray__"].__setitem__(0, -1.0),
     "oos_variances_ holds -1.0, below its minimum 0.0"),
    (lambda s: s["fitted"].update(oos_floor_=0.0), "oos_floor_"),
    (lambda s: s["fitted"].update(oos_threshold_=float("nan")), "oos_threshold_"),
    (lambda s: s["fitted"].update(predict_=1), "not a fitted attribute"),
])
def test_inconsistent_trust_parts_are_refused(tmp_path, edit, message):
    path = _tampered(tmp_path, edit)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)
