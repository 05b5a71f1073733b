"""A new estimator declares its own model-file state: the safe format stores, allows and
checks it with no change to the model-file code (``skin_estimators._persistence``)."""

import json
import numbers

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import ModelFileError, load_model, save_model
from skin_estimators.exceptions import UnrepresentableError
from skin_estimators.utils import _model_state
from skin_estimators.utils._fields import Checked, Floats, Integer, check_classes, check_fields
from skin_estimators.utils._param_validation import Interval


class NearestMean(ClassifierMixin, BaseEstimator):
    """Probabilities from the distances to each class's mean feature vector."""

    _parameter_constraints = {"sharpness": [Interval(numbers.Real, 0, None, closed="neither")]}

    # What a safe model file keeps of it: the allow-list of its fitted attributes, each
    # attribute's kind and shape, those it cannot predict without, and its check.
    _model_file_fields = {
        "classes_": Checked(),
        "n_features_in_": Integer(1, binds="width"),
        "means_": Floats("n_classes", "width"),
    }
    _model_file_required = ("classes_", "means_")

    def _check_model_file_state(self, where):
        n = check_classes(self.classes_, f"{where}.classes_")
        check_fields(self, self._model_file_fields, where,
                     {"n_classes": (n, f"the classes of {where}.classes_")})

    def __init__(self, sharpness=1.0):
        self.sharpness = sharpness

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        self.means_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_])
        return self

    def predict_proba(self, X):
        d = ((np.asarray(X, dtype=float)[:, None, :] - self.means_) ** 2).sum(axis=2)
        logits = -self.sharpness * d
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


@pytest.fixture
def storable():
    """The toy class, declared storable: its one registration (undone after the test)."""
    yield _model_state.stored_in_model_files(NearestMean)
    del _model_state._CLASSES["skin_estimators.NearestMean"]


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = np.repeat(["a", "b", "c"], 20)
    X[y == "b", 0] += 3
    X[y == "c", 1] += 3
    return X, y


def _craft(path, edit):
    """Change the description of the file at ``path`` with ``edit``, re-hashing it."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence._safe import HASH_KEY, META_KEY, digest

    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    doc = json.loads(meta[META_KEY])
    edit(doc["estimator"])
    text = json.dumps(doc)
    save_file(tensors, str(path), metadata={META_KEY: text, HASH_KEY: digest(text, tensors)})
    return path


@pytest.mark.parametrize("in_pipeline", [False, True])
def test_a_declared_estimator_round_trips_through_the_safe_format(storable, tmp_path,
                                                                   in_pipeline):
    X, y = _data()
    model = storable(sharpness=0.5)
    model = (make_pipeline(StandardScaler(), model) if in_pipeline else model).fit(X, y)
    path = tmp_path / "toy.safetensors"
    save_model(model, path)
    loaded = load_model(path)
    toy = loaded[-1] if in_pipeline else loaded
    assert type(toy) is NearestMean and toy.sharpness == 0.5
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(toy.classes_, ["a", "b", "c"])


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["fitted"]["means_"].update(shape=[2, 6], __ndarray__=[[0.0] * 6] * 2),
     r"model.means_ has shape \(2, 6\), 2 along axis 0; 3 expected \(n_classes"),
    (lambda s: s["fitted"].update(extra_=1),
     r"model.extra_ is not a fitted attribute of NearestMean \(it has: classes_, "
     r"n_features_in_, means_\)"),
    (lambda s: s["fitted"].pop("means_"), "without its fitted attribute"),
    (lambda s: s["params"].update(sharpness=-1.0), "parameter sharpness"),
    (lambda s: s["fitted"]["classes_"].update(__ndarray__=["b", "a", "c"]), "is not sorted"),
])
def test_its_declaration_is_checked_when_a_file_is_loaded(storable, tmp_path, edit, message):
    X, y = _data()
    path = tmp_path / "toy.safetensors"
    save_model(storable().fit(X, y), path)
    _craft(path, edit)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_an_estimator_that_declares_nothing_is_not_stored(tmp_path):
    X, y = _data()
    with pytest.raises(UnrepresentableError, match=r"model = NearestMean\(\) cannot be stored"):
        save_model(NearestMean().fit(X, y), tmp_path / "toy.safetensors")


def test_a_class_without_fields_cannot_be_declared():
    class Nothing(BaseEstimator):
        pass

    with pytest.raises(TypeError, match="declares no _model_file_fields"):
        _model_state.stored_in_model_files(Nothing)


def test_two_classes_cannot_share_a_name_in_model_files(storable):
    class NearestMean(BaseEstimator):  # another class of the same name
        _model_file_fields = {}

    with pytest.raises(TypeError, match="skin_estimators.NearestMean is already"):
        _model_state.stored_in_model_files(NearestMean)
