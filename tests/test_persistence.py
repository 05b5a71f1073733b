"""Model files: safe (safetensors + JSON) and joblib, both through load_model."""

import json
import os
import warnings

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from skin_estimators import ModelFileError, VanillaCNNClassifier, load_model, save_model
from skin_estimators.persistence import (
    UnrepresentableError,
    load_model_metadata,
    model_file_format,
)
from skin_estimators.preprocessing import ChannelNormalizer, ImageLoader

SIZE = 16


@pytest.fixture(scope="module")
def paths_and_labels(skin3_root):
    from skin_estimators import load_image_folder

    data = load_image_folder(skin3_root)
    keep = np.concatenate([np.flatnonzero(data.target == c)[::6] for c in data.target_names])
    return data.filenames[keep], data.target[keep]


@pytest.fixture(scope="module")
def pipeline(paths_and_labels):
    X, y = paths_and_labels
    clf = VanillaCNNClassifier(max_epochs=1, batch_size=8, lr=0.01, random_state=0)
    return make_pipeline(ImageLoader(size=SIZE), ChannelNormalizer(), clf).fit(X, y)


@pytest.fixture(scope="module")
def array_clf():
    X = np.random.RandomState(0).randn(12, 3, SIZE, SIZE).astype("float32")
    y = np.array(["acne", "herpes", "lichen"] * 4)
    return VanillaCNNClassifier(max_epochs=1, random_state=0).fit(X, y), X


def _params(est):
    # skorch's deep parameters include its default callback instances (repr by address)
    return {k: repr(v) for k, v in est.get_params(deep=True).items() if "callbacks__" not in k}


def test_safe_round_trip_gives_identical_probabilities_to_joblib(pipeline, paths_and_labels,
                                                                  tmp_path):
    X, _ = paths_and_labels
    save_model(pipeline, tmp_path / "m.safetensors")
    save_model(pipeline, tmp_path / "m.joblib", format="joblib")
    safe = load_model(tmp_path / "m.safetensors")
    pickled = load_model(tmp_path / "m.joblib", trust_pickle=True)
    expected = pipeline.predict_proba(X)
    np.testing.assert_array_equal(safe.predict_proba(X), expected)
    np.testing.assert_array_equal(pickled.predict_proba(X), expected)
    assert _params(safe) == _params(pipeline)
    np.testing.assert_array_equal(safe[1].mean_, pipeline[1].mean_)
    assert safe[-1].classes_.tolist() == pipeline[-1].classes_.tolist()
    assert safe[-1].input_shape_ == pipeline[-1].input_shape_
    np.testing.assert_array_equal(safe[-1].class_weight_, pipeline[-1].class_weight_)
    assert len(safe[-1].history_) == len(pipeline[-1].history_)


def test_safe_file_is_a_plain_safetensors_file(pipeline, tmp_path):
    from safetensors import safe_open

    path = tmp_path / "m.safetensors"
    save_model(pipeline, path, metadata={"note": "hello"})
    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
        doc = json.loads(f.metadata()["skin_estimators"])
    assert "2.module.classifier.weight" in keys
    assert doc["estimator"]["class"] == "sklearn.pipeline.Pipeline"
    assert load_model_metadata(path)["metadata"] == {"note": "hello"}


def test_format_is_detected_by_content_not_name(pipeline, tmp_path):
    save_model(pipeline, tmp_path / "safe.joblib")  # safe format under a misleading name
    save_model(pipeline, tmp_path / "pickle.safetensors", format="joblib")
    assert model_file_format(tmp_path / "safe.joblib") == "safe"
    assert model_file_format(tmp_path / "pickle.safetensors") == "joblib"
    load_model(tmp_path / "safe.joblib")
    with pytest.raises(ModelFileError, match="trust_pickle"):
        load_model(tmp_path / "pickle.safetensors")


def test_joblib_needs_trust_pickle(array_clf, tmp_path):
    clf, X = array_clf
    save_model(clf, tmp_path / "m.joblib", format="joblib")
    with pytest.raises(ModelFileError, match=r"m\.joblib.*trust_pickle=True"):
        load_model(tmp_path / "m.joblib")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m.joblib", trust_pickle=True).predict_proba(X),
        clf.predict_proba(X),
    )


def _flip_byte(path, offset_from_end):
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0xFF
    path.write_bytes(bytes(data))


def test_tampered_weights_are_rejected(array_clf, tmp_path):
    clf, _ = array_clf
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    _flip_byte(path, 10)
    with pytest.raises(ModelFileError, match=r"m\.safetensors.*modified or damaged"):
        load_model(path)


def test_tampered_description_is_rejected(array_clf, tmp_path):
    clf, _ = array_clf
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    data = path.read_bytes()
    # same length, so the file stays a valid safetensors file: only the digest can tell
    tampered = data.replace(b"herpes", b"HERPES", 1)
    assert tampered != data
    path.write_bytes(tampered)
    with pytest.raises(ModelFileError, match="modified or damaged"):
        load_model(path)


@pytest.mark.parametrize("fmt", ["safe", "joblib"])
def test_truncated_files_are_a_clear_error(array_clf, tmp_path, fmt):
    clf, _ = array_clf
    path = tmp_path / "m.model"
    save_model(clf, path, format=fmt)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=r"m\.model.*(truncated|damaged)"):
        load_model(path, trust_pickle=True)


def test_not_a_model_file(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"notes\.txt.*neither"):
        load_model(tmp_path / "notes.txt")
    with pytest.raises(ModelFileError, match="empty"):
        load_model(tmp_path / "empty")
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "missing.safetensors")


def _rewrite_doc(path, edit):
    """Change the JSON of a safe file and re-seal it (as a newer version would write it)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence import _safe

    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()["skin_estimators"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    edit(doc)
    meta = json.dumps(doc)
    save_file(tensors, str(path), metadata={"skin_estimators": meta,
                                            "sha256": _safe.digest(meta, tensors)})


def test_newer_format_version_is_a_clear_error(array_clf, tmp_path):
    clf, _ = array_clf
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    _rewrite_doc(path, lambda doc: doc.update(format_version=99))
    with pytest.raises(ModelFileError, match="format version 99"):
        load_model(path)


def test_classes_outside_the_allow_list_are_never_built(array_clf, tmp_path):
    clf, _ = array_clf
    path = tmp_path / "m.safetensors"
    save_model(clf, path)

    def evil(doc):
        doc["estimator"]["class"] = "os.system"

    _rewrite_doc(path, evil)
    with pytest.raises(ModelFileError, match="'os.system'"):
        load_model(path)

    save_model(clf, path)
    _rewrite_doc(path, lambda doc: doc["estimator"]["params"].update(
        optimizer={"__type__": "subprocess.Popen"}))
    with pytest.raises(ModelFileError, match="subprocess.Popen"):
        load_model(path)


def test_callbacks_outside_the_allow_list_are_never_built(tmp_path):
    from skin_estimators import make_recommended_classifier

    X = np.random.RandomState(0).randn(8, 3, SIZE, SIZE).astype("float32")
    path = tmp_path / "m.safetensors"
    save_model(make_recommended_classifier(kind="scattering", max_epochs=1,
                                           random_state=0).fit(X, [0, 1] * 4), path)
    assert load_model(path).callbacks[0][1].start == 0.5

    def rename(doc):  # a re-sealed file that names a class outside the allow-list
        text = json.dumps(doc)
        assert "skin_estimators.callbacks.WeightAveraging" in text
        doc.update(json.loads(text.replace("skin_estimators.callbacks.WeightAveraging", "os.system")))

    _rewrite_doc(path, rename)
    with pytest.raises(ModelFileError, match="os.system"):
        load_model(path)


def identity(x):
    return x


def test_unrepresentable_parameter_refuses_safe_and_names_it(tmp_path):
    X = np.random.RandomState(0).randn(8, 3, SIZE, SIZE).astype("float32")
    clf = VanillaCNNClassifier(max_epochs=1, augment=identity).fit(X, [0, 1] * 4)
    with pytest.raises(UnrepresentableError, match="augment.*format='joblib'"):
        save_model(clf, tmp_path / "m.safetensors")
    assert not os.listdir(tmp_path)  # nothing half-written
    save_model(clf, tmp_path / "m.joblib", format="joblib")


def test_non_string_labels_and_optimizer_kwargs_survive(tmp_path):
    X = np.random.RandomState(0).randn(8, 3, SIZE, SIZE).astype("float32")
    clf = VanillaCNNClassifier(max_epochs=1, optimizer=torch.optim.Adam, class_weight={3: 2.0, 7: 1.0},
                               module__channels=(4, 8, 8), optimizer__weight_decay=1e-4,
                               random_state=0).fit(X, [3, 7] * 4)
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.classes_.tolist() == [3, 7]
    assert loaded.optimizer is torch.optim.Adam
    assert loaded.class_weight == {3: 2.0, 7: 1.0}
    assert loaded.module__channels == (4, 8, 8)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded.partial_fit(X, [3, 7] * 4)  # still trainable


def test_loading_leaves_the_random_stream_alone(array_clf, tmp_path):
    clf, _ = array_clf
    save_model(clf, tmp_path / "m.safetensors")
    torch.manual_seed(0)
    load_model(tmp_path / "m.safetensors")
    after = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(1), after)


def test_gpu_saved_joblib_loads_on_cpu(array_clf, tmp_path):
    """A model pickled with device='cuda' (as on a GPU machine) loads where there is no GPU."""
    import joblib

    clf, X = array_clf
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the fallback is for CPU-only machines")
    path = tmp_path / "m.joblib"
    clf.__dict__["device"] = "cuda"
    try:
        joblib.dump(clf, path)
    finally:
        clf.__dict__["device"] = "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch warns that it falls back to the CPU
        loaded = load_model(path, trust_pickle=True)
    assert str(loaded.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_save_is_atomic(array_clf, tmp_path, monkeypatch):
    clf, _ = array_clf
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("safetensors.torch.save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model(clf, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_unfitted_model_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save_model(VanillaCNNClassifier(), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="format"):
        save_model(VanillaCNNClassifier(), tmp_path / "m", format="pickle")
