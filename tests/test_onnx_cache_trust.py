"""The ONNX graph cache as a trust boundary: a private folder, and cached graphs checked
against the reference features a model file holds (or against PyTorch for older files)."""

import hashlib
import json
import os
import stat
import warnings

import numpy as np
import pytest

from skin_estimators import PretrainedFeatures, clear_feature_cache, load_model, save_model
from skin_estimators.preprocessing import _onnx_backend

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

X = np.random.RandomState(0).randn(4, 3, 32, 32).astype(np.float32)
TOL = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test: its own cache folder (not made yet), no sessions or warnings carried over."""
    monkeypatch.setenv(_onnx_backend.CACHE_ENV, str(tmp_path / "cache" / "onnx"))
    monkeypatch.setattr(_onnx_backend, "_SESSIONS", {})
    monkeypatch.setattr(_onnx_backend, "_FAILED", set())
    monkeypatch.setattr(_onnx_backend, "_WARNED", set())
    clear_feature_cache()
    yield
    clear_feature_cache()


def _new_process(monkeypatch):
    """What a new process starts with: no sessions, no computed features."""
    monkeypatch.setattr(_onnx_backend, "_SESSIONS", {})
    clear_feature_cache()


def _fitted():
    return PretrainedFeatures(pretrained=False, mirror=False, backend="onnxruntime").fit(X)


def _graphs():
    folder = _onnx_backend.cache_dir()
    return sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".onnx"))


def _plant(victim, source):
    """Write the graph ``source`` under the cache name ``victim``, its key metadata forged
    to ``victim``'s and its digest recomputed: what anyone who can write the folder can do."""
    folder = _onnx_backend.cache_dir()
    proto = onnx.load(os.path.join(folder, source + ".onnx"))
    for entry in proto.metadata_props:
        if entry.key == _onnx_backend._KEY_META:
            entry.value = victim
    data = proto.SerializeToString()
    with open(os.path.join(folder, victim + ".onnx"), "wb") as f:
        f.write(data)
    with open(os.path.join(folder, victim + ".sha256"), "w") as f:
        f.write(hashlib.sha256(data).hexdigest() + "\n")


def test_the_cache_folder_is_created_private():
    _fitted().transform(X)
    folder = _onnx_backend.cache_dir()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert len(_graphs()) == 1


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o770, 0o702])
def test_a_cache_folder_others_can_write_is_refused(mode):
    folder = _onnx_backend.cache_dir()
    os.makedirs(folder)
    os.chmod(folder, mode)
    est = PretrainedFeatures(pretrained=False, mirror=False, backend="torch").fit(X)
    expected = est.transform(X)
    est.set_params(backend="onnxruntime")
    with pytest.warns(RuntimeWarning) as record:
        features = est.transform(X)
    messages = [str(w.message) for w in record if "ONNX graph cache" in str(w.message)]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert repr(folder) in messages[0] and f"mode {mode:o}" in messages[0]
    assert "chmod 700" in messages[0]
    np.testing.assert_allclose(features, expected, **TOL)  # computed all the same
    assert os.listdir(folder) == []  # nothing read from it or written into it


def test_a_planted_graph_is_refused_by_the_reference_features(monkeypatch, tmp_path):
    import torch

    mine = PretrainedFeatures(pretrained=False, mirror=False, backend="torch").fit(X)
    expected = mine.transform(X)
    path = tmp_path / "features.safetensors"
    save_model(mine.set_params(backend="onnxruntime"), path)
    mine.transform(X)  # exports this model's graph
    other = PretrainedFeatures(pretrained=False, mirror=False, backend="onnxruntime").fit(X)
    with torch.no_grad():
        other.backbone_.conv_stem.weight.mul_(3)
    other.transform(X)  # another graph, valid for other weights
    (victim,) = [g for g in _graphs() if g in _graphs_of(mine)]
    (source,) = [g for g in _graphs() if g != victim]
    _plant(victim, source)

    _new_process(monkeypatch)
    loaded = load_model(path)  # the planted graph has a valid digest: loading defers torch
    with pytest.warns(RuntimeWarning, match="does not reproduce this model's features"):
        features = loaded.transform(X)
    np.testing.assert_allclose(features, expected, **TOL)
    _new_process(monkeypatch)  # the cache was repaired: no warning, no export
    exports = []
    real_export = _onnx_backend._export
    monkeypatch.setattr(_onnx_backend, "_export", lambda *a: exports.append(1) or real_export(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(load_model(path).transform(X), expected, **TOL)
    assert exports == []


def _graphs_of(est):
    """The cache names of ``est``'s graphs (any image size)."""
    signature, layout = est._signature(), est._layout()
    key = _onnx_backend.weights_key(signature, layout)
    return [g for g in _graphs() if g.startswith(key)]


def _without_reference(path):
    """The safe file at ``path`` as an older version wrote it: no reference features."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence._safe import HASH_KEY, META_KEY, digest

    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()[META_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for name in ("probe_shape_", "probe_features_"):
        del doc["estimator"]["fitted"][name]
    text = json.dumps(doc)
    save_file(tensors, str(path), metadata={META_KEY: text, HASH_KEY: digest(text, tensors)})


def test_a_file_without_reference_checks_the_graph_against_pytorch(monkeypatch, tmp_path):
    import torch

    mine = PretrainedFeatures(pretrained=False, mirror=False, backend="onnxruntime").fit(X)
    expected = mine.transform(X)
    path = tmp_path / "old.safetensors"
    save_model(mine, path)
    _without_reference(path)
    assert not hasattr(load_model(path), "probe_features_")

    # Its own cached graph: used after the check, no export.
    _new_process(monkeypatch)
    exports = []
    real_export = _onnx_backend._export
    monkeypatch.setattr(_onnx_backend, "_export", lambda *a: exports.append(1) or real_export(*a))
    np.testing.assert_allclose(load_model(path).transform(X), expected, **TOL)
    assert exports == []

    # A planted one: refused, exported again.
    other = PretrainedFeatures(pretrained=False, mirror=False, backend="onnxruntime").fit(X)
    with torch.no_grad():
        other.backbone_.conv_stem.weight.mul_(3)
    other.transform(X)
    (victim,) = _graphs_of(mine)
    (source,) = [g for g in _graphs() if g != victim]
    _plant(victim, source)
    _new_process(monkeypatch)
    exports.clear()
    with pytest.warns(RuntimeWarning, match="does not reproduce"):
        np.testing.assert_allclose(load_model(path).transform(X), expected, **TOL)
    assert exports == [1]


def test_reference_features_are_stored_and_checked_at_load(tmp_path):
    from skin_estimators import ModelFileError

    est = PretrainedFeatures(pretrained=False, mirror=False, backend="torch").fit(X)
    assert est.probe_shape_ == (3, 32, 32)
    assert est.probe_features_.shape == (1, est.n_features_out_)
    path = tmp_path / "features.safetensors"
    save_model(est, path)
    np.testing.assert_array_equal(load_model(path).probe_features_, est.probe_features_)

    from safetensors import safe_open
    from safetensors.torch import save_file

    from skin_estimators._persistence._safe import HASH_KEY, META_KEY, digest

    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()[META_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    doc["estimator"]["fitted"]["probe_features_"]["shape"] = [2, est.n_features_out_ // 2]
    text = json.dumps(doc)
    save_file(tensors, str(path), metadata={META_KEY: text, HASH_KEY: digest(text, tensors)})
    with pytest.raises(ModelFileError, match=r"model\.probe_features_ has shape"):
        load_model(path)
