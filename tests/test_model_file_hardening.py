"""Safe model files edited and re-sealed (the digest recomputed, as whoever can edit a file can
do): NaN weights, parameters outside their declared constraints, trust fields of the wrong
width, kind or size. Each is refused at load in one line naming the file and the field."""

import json

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skin_estimators import (
    ChannelNormalizer,
    ImageLoader,
    ModelFileError,
    PretrainedFeatures,
    TrustedClassifier,
    VanillaCNNClassifier,
    load_model,
    save_model,
)

LABELS = np.array(["acne", "herpes_simplex", "lichen_planus"])


def reseal(source, path, edit=None, edit_tensors=None):
    """Copy the safe file ``source`` to ``path`` with ``edit(doc["estimator"])`` and
    ``edit_tensors(tensors)`` applied, the digest recomputed with the library's function."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence._safe import HASH_KEY, META_KEY, digest

    with safe_open(str(source), framework="pt") as f:
        doc = json.loads(f.metadata()[META_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if edit is not None:
        edit(doc["estimator"])
    if edit_tensors is not None:
        edit_tensors(tensors)
    text = json.dumps(doc)
    save_file(tensors, str(path), metadata={META_KEY: text, HASH_KEY: digest(text, tensors)})
    return path


def refused(path, *fields):
    """Load ``path``: one ModelFileError line naming the file and each of ``fields``."""
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"Cannot load the model file {str(path)!r}: "), message
    assert "\n" not in message, message
    for field in fields:
        assert field in message, (field, message)
    return message


def _data(n=90):
    X, y = make_classification(n, n_features=6, n_informative=3, n_classes=3,
                               n_clusters_per_class=1, random_state=0)
    return X, LABELS[y]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small fitted models saved once: ``{name: path}``."""
    folder = tmp_path_factory.mktemp("models")
    X, y = _data()
    models = {
        "trusted": TrustedClassifier(make_pipeline(StandardScaler(), LogisticRegression()),
                                     cv=3),
        "knn": TrustedClassifier(make_pipeline(StandardScaler(), LogisticRegression()), cv=3,
                                 out_of_scope="knn"),
        "cross": TrustedClassifier(make_pipeline(StandardScaler(), StandardScaler(),
                                                 LogisticRegression()),
                                   cv=5, conformal="cross"),
    }
    paths = {}
    for name, model in models.items():
        paths[name] = folder / f"{name}.safetensors"
        save_model(model.fit(X, y), paths[name])
    images = np.random.RandomState(0).randint(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    cnn = make_pipeline(ImageLoader(size=8), ChannelNormalizer(),
                        VanillaCNNClassifier(max_epochs=1, batch_size=4, random_state=0))
    paths["cnn"] = folder / "cnn.safetensors"
    save_model(cnn.fit(images, LABELS[[0, 1, 2] * 2]), paths["cnn"])
    normalised = np.random.RandomState(1).randn(6, 3, 32, 32).astype(np.float32)
    backbone = make_pipeline(PretrainedFeatures(pretrained=False, backend="torch"),
                             LogisticRegression())
    paths["backbone"] = folder / "backbone.safetensors"
    save_model(backbone.fit(normalised, LABELS[[0, 1, 2] * 2]), paths["backbone"])
    return paths


def test_the_resealed_files_load(files, tmp_path):
    for name, source in files.items():
        load_model(reseal(source, tmp_path / f"{name}.safetensors"))


# ------------------------------------------------------------------ NaN in any tensor
def _set_first(suffix, value):
    def edit(tensors):
        name = min(k for k in tensors if k.endswith(suffix))
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[0] = value
        edit.name = name
    return edit


@pytest.mark.parametrize("model, suffix, value, says", [
    ("cnn", ".bias", float("nan"), "nan"),
    ("cnn", ".weight", float("inf"), "inf"),
    ("backbone", "running_var", float("nan"), "nan"),
    ("backbone", "running_var", -1.0, "negative variance"),
])
def test_a_tensor_that_is_not_finite_is_refused_naming_it(files, tmp_path, model, suffix,
                                                           value, says):
    edit = _set_first(suffix, value)
    path = reseal(files[model], tmp_path / "crafted.safetensors", edit_tensors=edit)
    refused(path, f"tensor {edit.name!r}", says)


# ------------------------------------------------------------------ declared parameters
@pytest.mark.parametrize("param, value", [
    ("confidence_level", 2), ("confidence_level", 0), ("confidence_level", -1),
    ("confidence_level", "x"), ("confidence_level", None), ("out_of_scope", "bogus"),
    ("mondrian", "yes"), ("prevalence", "x"), ("false_alarm_rate", 2),
    ("calibration", "isotonic"), ("conformal", 3),
])
def test_trust_parameters_go_through_the_declared_constraints(files, tmp_path, param, value):
    path = reseal(files["trusted"], tmp_path / "crafted.safetensors",
                  lambda spec: spec["params"].update({param: value}))
    message = refused(path, f"model parameter {param} must be", f"got {value!r}")
    assert "Traceback" not in message


@pytest.mark.parametrize("model, step, param, value", [
    ("trusted", "logisticregression", "C", -1.0),
    ("trusted", "standardscaler", "with_mean", "yes"),
    ("cnn", "vanillacnnclassifier", "batch_size", 0),
    ("cnn", "channelnormalizer", "mean", "bogus"),
    ("cnn", "imageloader", "size", -8),
    ("backbone", "pretrainedfeatures", "mirror", "yes"),
])
def test_every_estimator_kind_is_checked_by_its_constraints(files, tmp_path, model, step,
                                                            param, value):
    def edit(spec):
        pipeline = spec["estimator"] if model == "trusted" else spec
        dict(pipeline["steps"])[step]["params"][param] = value

    path = reseal(files[model], tmp_path / "crafted.safetensors", edit)
    refused(path, f"['{step}'] parameter {param} must be")


# ------------------------------------------------------------------ widths of the OOS models
def _table(rows, cols):
    return {"__ndarray__": np.ones((rows, cols)).tolist(), "dtype": "<f8",
            "shape": [rows, cols]}


def test_knn_reference_of_the_wrong_width_is_refused(files, tmp_path):
    path = reseal(files["knn"], tmp_path / "crafted.safetensors",
                  lambda spec: spec["fitted"].update(oos_reference_=_table(90, 10)))
    refused(path, "model.oos_reference_", "10 along axis 1; 6 expected", "width")


def test_mahalanobis_means_of_the_wrong_width_are_refused(files, tmp_path):
    def edit(spec):  # means and basis agree with each other, not with the model's features
        spec["fitted"].update(oos_means_=_table(3, 10), oos_basis_=_table(2, 10),
                              oos_variances_={"__ndarray__": [1.0, 1.0], "dtype": "<f8",
                                              "shape": [2]})

    refused(reseal(files["trusted"], tmp_path / "crafted.safetensors", edit),
            "model.oos_means_", "6 expected")


# ------------------------------------------------------------------ fitted trust fields
def _fitted_update(**values):
    return lambda spec: spec["fitted"].update(values)


def _sixth_fold(spec):
    spec["estimators"].append(spec["estimators"][0])


@pytest.mark.parametrize("model, edit, says", [
    ("cross", _fitted_update(frozen_steps_=2), "model.frozen_steps_ = 2, but 0 of the 3"),
    ("cross", _sixth_fold, "model.estimators_[5] is a fold model without calibration rows"),
    ("trusted", _fitted_update(calibration_params_={"__ndarray__": [1e-320], "dtype": "<f8",
                                                    "shape": [1]}),
     "the inverse temperature 1e-320 lies outside"),
    ("trusted", _fitted_update(n_calibration_="90"), "model.n_calibration_ = '90' is not"),
    ("trusted", _fitted_update(n_calibration_=91), "class_counts_ add up to 90"),
    ("trusted", _fitted_update(cv_description_="x" * 5_000_000),
     "model.cv_description_ is a text of 5000000 characters"),
    ("trusted", _fitted_update(cv_description_=7), "model.cv_description_ = 7 is not a text"),
    ("knn", _fitted_update(oos_reference_=None), "oos_reference_ is missing"),
])
def test_inconsistent_fitted_trust_fields_are_refused(files, tmp_path, model, edit, says):
    refused(reseal(files[model], tmp_path / "crafted.safetensors", edit), says)


def test_long_texts_are_refused_when_saving_and_loading(files, tmp_path):
    from skin_estimators.exceptions import UnrepresentableError

    model = load_model(files["trusted"])
    with pytest.raises(UnrepresentableError, match="texts hold at most 65536 characters"):
        save_model(model, tmp_path / "long.safetensors", metadata={"note": "y" * 70_000})
    assert not (tmp_path / "long.safetensors").exists()


def test_every_fitted_trust_field_is_declared():
    """The allow-list of a TrustedClassifier's fitted attributes is its field table, and a
    fitted model sets nothing else (a new attribute needs its field to be saved)."""
    from skin_estimators._persistence._fitted import FITTED
    from skin_estimators.uncertainty._trusted_state import TRUSTED_FIELDS

    assert FITTED["skin_estimators.TrustedClassifier"] == tuple(TRUSTED_FIELDS)
    X, y = _data()
    for params in ({}, {"out_of_scope": "knn", "conformal": "cross"}):
        model = TrustedClassifier(LogisticRegression(), cv=3, **params).fit(X, y)
        public = {k for k in vars(model) if k.endswith("_") and not k.startswith("_")}
        assert public - {"estimator_", "estimators_"} <= set(TRUSTED_FIELDS)
