"""PretrainedFeatures' backends: ONNX Runtime agrees with PyTorch, falls back, caches safely."""

import hashlib
import os
import sys
import warnings

import numpy as np
import pytest

from skin_estimators import PretrainedFeatures, clear_feature_cache, load_model, save_model
from skin_estimators.preprocessing import _onnx_backend

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

RNG = np.random.RandomState(0)
X = RNG.randn(5, 3, 32, 32).astype(np.float32)
TOL = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One graph cache folder for the tests that do not test the cache (fewer exports)."""
    return str(tmp_path_factory.mktemp("onnx"))


@pytest.fixture(autouse=True)
def _fresh_backend_state(shared_cache, monkeypatch):
    """Each test: no sessions or warnings carried over, the graphs in a temporary folder."""
    monkeypatch.setenv(_onnx_backend.CACHE_ENV, shared_cache)
    monkeypatch.setattr(_onnx_backend, "_SESSIONS", {})
    monkeypatch.setattr(_onnx_backend, "_FAILED", set())
    monkeypatch.setattr(_onnx_backend, "_WARNED", set())
    clear_feature_cache()  # features computed by another test would hide the backend
    yield
    clear_feature_cache()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty graph cache folder of this test's own."""
    monkeypatch.setenv(_onnx_backend.CACHE_ENV, str(tmp_path / "onnx"))


def _fitted(**params):
    params.setdefault("pretrained", False)
    return PretrainedFeatures(**params).fit(X)


def _cached_graphs():
    folder = _onnx_backend.cache_dir()
    return sorted(f for f in os.listdir(folder) if f.endswith(".onnx")) if os.path.isdir(
        folder) else []


def _without_onnxruntime(monkeypatch, module="onnxruntime"):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError


@pytest.mark.parametrize("backend, stages, mirror",
                         [("onnxruntime", None, False), ("auto", (2, 6), True)])
def test_backend_matches_torch(backend, stages, mirror):
    torch_features = _fitted(stages=stages, mirror=mirror, backend="torch").transform(X)
    # batch_size=2 on 5 images: the graph's batch axis is dynamic (chunks of 2, 2, 1).
    est = _fitted(stages=stages, mirror=mirror, backend=backend, batch_size=2)
    features = est.transform(X)
    assert features.dtype == np.float32 and features.shape == torch_features.shape
    np.testing.assert_allclose(features, torch_features, **TOL)
    assert len(_onnx_backend._SESSIONS) == 1  # auto on a CPU is ONNX Runtime


def test_torch_backend_matches_plain_pytorch_forward():
    import torch

    est = _fitted(backend="torch", mirror=False)
    with torch.no_grad():
        expected = est.backbone_(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(est.transform(X), expected, **TOL)
    # The fitted network is handed back in the contiguous layout it was fitted in.
    assert all(p.is_contiguous() for p in est.backbone_.parameters())
    assert _onnx_backend._SESSIONS == {}


def test_resolve_backend():
    import torch

    cpu, cuda = "cpu", torch.device("cuda")
    assert _onnx_backend.resolve_backend("auto", cpu, "X") == "onnxruntime"
    assert _onnx_backend.resolve_backend("auto", cuda, "X") == "torch"
    assert _onnx_backend.resolve_backend("torch", cpu, "X") == "torch"
    assert _onnx_backend.resolve_backend("onnxruntime", cuda, "X") == "onnxruntime"


@pytest.mark.parametrize("backend", ["onnx", "", None, 1, "TORCH"])
def test_invalid_backend_is_one_line(backend):
    with pytest.raises(ValueError, match=r"^PretrainedFeatures: backend must be one of"):
        PretrainedFeatures(pretrained=False, backend=backend).fit(X)
    est = _fitted()
    est.backend = backend
    with pytest.raises(ValueError, match=r"^PretrainedFeatures: backend must be one of"):
        est.transform(X)


@pytest.mark.parametrize("missing", ["onnxruntime", "onnx"])
def test_missing_onnxruntime_falls_back_with_one_warning(monkeypatch, missing):
    expected = _fitted(backend="torch").transform(X)
    _without_onnxruntime(monkeypatch, missing)
    est = _fitted(backend="onnxruntime")
    with pytest.warns(RuntimeWarning, match="PretrainedFeatures: backend='onnxruntime' needs"
                      ) as record:
        first = est.transform(X)
        second = _fitted(backend="onnxruntime", mirror=False).transform(X[:2])
    assert len([w for w in record if "onnxruntime" in str(w.message)]) == 1
    np.testing.assert_allclose(first, expected, **TOL)
    assert second.shape == (2, 1280)
    # auto quietly uses PyTorch.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(_fitted(backend="auto").transform(X), expected, **TOL)
    assert _onnx_backend._SESSIONS == {}


def test_failed_export_falls_back_with_one_warning(monkeypatch, fresh_cache):
    expected = _fitted(backend="torch").transform(X)

    def broken(*args, **kwargs):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(_onnx_backend, "_export", broken)
    est = _fitted(backend="onnxruntime")
    with pytest.warns(RuntimeWarning, match=r"could not run the network through ONNX Runtime "
                      r"\(no exporter here\)") as record:
        features = est.transform(X)
        est.transform(X[::-1].copy())  # not retried, not warned again
    assert len(record) == 1
    np.testing.assert_allclose(features, expected, **TOL)
    assert _cached_graphs() == []


def _forget_sessions(monkeypatch):
    monkeypatch.setattr(_onnx_backend, "_SESSIONS", {})


def test_cached_graph_is_reused_and_verified(monkeypatch, fresh_cache):
    est = _fitted(backend="onnxruntime")
    expected = est.transform(X)
    (name,) = _cached_graphs()
    path = os.path.join(_onnx_backend.cache_dir(), name)
    with open(path, "rb") as f:
        data = f.read()
    with open(path[:-5] + ".sha256") as f:
        assert f.read().strip() == hashlib.sha256(data).hexdigest()

    # A new process (no sessions) reads the file instead of exporting.
    _forget_sessions(monkeypatch)
    clear_feature_cache()
    exports = []
    real_export = _onnx_backend._export
    monkeypatch.setattr(_onnx_backend, "_export",
                        lambda *a: exports.append(1) or real_export(*a))
    np.testing.assert_allclose(est.transform(X), expected, **TOL)
    assert exports == []

    # Corrupted bytes: digest mismatch, exported again, file repaired, no warning.
    for garbage in (data[: len(data) // 2], b"not an onnx graph"):
        with open(path, "wb") as f:
            f.write(garbage)
        _forget_sessions(monkeypatch)
        clear_feature_cache()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_allclose(est.transform(X), expected, **TOL)
        with open(path, "rb") as f:
            assert f.read() == data
    assert len(exports) == 2


def test_cached_graph_of_other_weights_is_rejected(monkeypatch, fresh_cache):
    import torch

    est = _fitted(backend="onnxruntime")
    expected = est.transform(X)
    (mine,) = _cached_graphs()
    other = _fitted(backend="onnxruntime")
    with torch.no_grad():
        other.backbone_.conv_stem.weight.mul_(2)
    other.transform(X)
    (theirs,) = [g for g in _cached_graphs() if g != mine]
    folder = _onnx_backend.cache_dir()
    # The other weights' valid graph and digest, stored under this one's key.
    for ext in (".onnx", ".sha256"):
        os.replace(os.path.join(folder, theirs[:-5] + ext), os.path.join(folder, mine[:-5] + ext))
    _forget_sessions(monkeypatch)
    clear_feature_cache()
    np.testing.assert_allclose(est.transform(X), expected, **TOL)


@pytest.mark.parametrize("installed", [True, False])
def test_safe_file_with_and_without_onnxruntime(tmp_path, monkeypatch, installed):
    est = _fitted(backend="auto")
    expected = _fitted(backend="torch").transform(X)
    path = tmp_path / "features.safetensors"
    save_model(est, path)
    if not installed:
        _without_onnxruntime(monkeypatch)
    graphs = _cached_graphs()
    loaded = load_model(path)
    assert loaded.get_params()["backend"] == "auto"
    # Loading exports nothing and opens no graph.
    assert _cached_graphs() == graphs and _onnx_backend._SESSIONS == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto never warns
        features = loaded.transform(X)
    np.testing.assert_allclose(features, expected, **TOL)
    assert len(_onnx_backend._SESSIONS) == (1 if installed else 0)
    # The file written after an ONNX Runtime transform is the same model.
    save_model(loaded, tmp_path / "again.safetensors")
    np.testing.assert_allclose(load_model(tmp_path / "again.safetensors").transform(X),
                               expected, **TOL)


def test_classifier_predicts_in_inference_mode_as_with_no_grad(tiny_images):
    import torch

    from skin_estimators import VanillaCNNClassifier

    X_img, y = tiny_images
    clf = VanillaCNNClassifier(max_epochs=1, random_state=0, train_split=None).fit(X_img, y)
    with torch.no_grad():
        clf.module_.eval()
        expected = torch.softmax(clf.module_(torch.from_numpy(X_img)), 1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X_img), expected, **TOL)
    # A fit with a validation split scores its batches through the same step.
    from skorch.dataset import ValidSplit

    split = VanillaCNNClassifier(max_epochs=1, random_state=0,
                                 train_split=ValidSplit(3, stratified=True)).fit(X_img, y)
    assert np.isfinite(split.history[-1, "valid_loss"])


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_weights_changed_in_place_change_the_features(backend):
    import torch

    est = _fitted(backend=backend, mirror=False)
    before = est.transform(X)
    with torch.no_grad():
        est.backbone_.conv_stem.weight.mul_(2)
    after = est.transform(X)
    assert not np.allclose(before, after, **TOL)
    with torch.no_grad():
        expected = est.backbone_(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(after, expected, **TOL)
