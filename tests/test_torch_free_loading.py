"""Loading a model whose network runs through ONNX Runtime does not need PyTorch.

``import skin_estimators`` imports neither PyTorch nor scikit-learn; a safe file is read as
numpy arrays; a ``PretrainedFeatures`` whose graph is in the cache keeps its weights as
arrays (deferred) and builds the network only when something needs it.
"""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skin_estimators import PretrainedFeatures, clear_feature_cache, load_model, save_model
from skin_estimators._persistence import _registry, _tensors
from skin_estimators.preprocessing import _onnx_backend

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

X = np.random.RandomState(1).randn(4, 3, 32, 32).astype(np.float32)
TOL = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Each test: its own empty graph cache, no sessions or feature memo carried over."""
    monkeypatch.setenv(_onnx_backend.CACHE_ENV, str(tmp_path / "onnx"))
    monkeypatch.setattr(_onnx_backend, "_SESSIONS", {})
    monkeypatch.setattr(_onnx_backend, "_FAILED", set())
    monkeypatch.setattr(_onnx_backend, "_WARNED", set())
    clear_feature_cache()
    yield
    clear_feature_cache()


def _saved(tmp_path, *, export=True, **params):
    """A fitted tiny feature extractor saved to a safe file; its graph cached if ``export``."""
    params = {"pretrained": False, "stages": (2, 6), "mirror": True, **params}
    est = PretrainedFeatures(**params).fit(X)
    if export:
        est.transform(X)  # exports and caches the graph
    path = tmp_path / "features.safetensors"
    save_model(est, path)
    with_torch = load_model(path).set_params(backend="torch").transform(X)
    return path, with_torch


def _run(code, env_extra):
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_package_imports_neither_torch_nor_sklearn():
    result = _run("""
        import json, sys
        heavy = ("torch", "sklearn", "timm", "skorch")
        import skin_estimators
        bare = {m: m in sys.modules for m in heavy}
        from skin_estimators import load_model, PretrainedFeatures, ImageLoader
        print(json.dumps([bare, {m: m in sys.modules for m in heavy}]))
    """, {})
    assert result[0] == {"torch": False, "sklearn": False, "timm": False, "skorch": False}
    # The feature pipeline's classes are scikit-learn estimators, but need no PyTorch yet.
    assert result[1] == {"torch": False, "sklearn": True, "timm": False, "skorch": False}


def test_every_public_name_resolves():
    import skin_estimators

    for name in skin_estimators.__all__:
        assert getattr(skin_estimators, name) is not None, name
    assert set(skin_estimators.__all__) <= set(dir(skin_estimators))
    with pytest.raises(AttributeError, match="no_such_name"):
        skin_estimators.no_such_name  # noqa: B018


def test_cached_graph_loads_and_predicts_without_torch(tmp_path):
    path, with_torch = _saved(tmp_path)
    np.save(tmp_path / "X.npy", X)
    result = _run(f"""
        import json, sys
        import numpy as np
        from skin_estimators import load_model
        est = load_model({str(path)!r})
        features = est.transform(np.load({str(tmp_path / "X.npy")!r}))
        np.save({str(tmp_path / "features.npy")!r}, features)
        print(json.dumps({{"torch": "torch" in sys.modules, "deferred": "_deferred" in vars(est)}}))
    """, {_onnx_backend.CACHE_ENV: os.environ[_onnx_backend.CACHE_ENV]})
    assert result == {"torch": False, "deferred": True}
    np.testing.assert_allclose(np.load(tmp_path / "features.npy"), with_torch, **TOL)


def test_without_cached_graph_the_network_is_built_at_load(tmp_path):
    path, with_torch = _saved(tmp_path, export=False)
    loaded = load_model(path)
    assert "backbone_" in vars(loaded) and "_deferred" not in vars(loaded)
    np.testing.assert_allclose(loaded.transform(X), with_torch, **TOL)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_a_deferred_network_is_built_on_first_need(tmp_path, backend):
    path, with_torch = _saved(tmp_path)
    loaded = load_model(path)
    assert "_deferred" in vars(loaded) and "backbone_" not in vars(loaded)
    np.testing.assert_allclose(loaded.transform(X), with_torch, **TOL)
    assert "_deferred" in vars(loaded)  # the cached graph computed it
    # Asked for the network (or for a torch backend), it is built from the file's weights.
    loaded.set_params(backend=backend)
    np.testing.assert_allclose(loaded.transform(X), with_torch, **TOL)
    assert loaded.backbone_ is vars(loaded)["backbone_"]
    assert "_deferred" not in vars(loaded)
    assert not any(p.requires_grad for p in loaded.backbone_.parameters())


def test_a_deferred_network_pickles_and_saves_as_a_built_one(tmp_path):
    path, with_torch = _saved(tmp_path)
    loaded = load_model(path)
    copy = pickle.loads(pickle.dumps(load_model(path)))
    assert "backbone_" in vars(copy)
    np.testing.assert_allclose(copy.set_params(backend="torch").transform(X), with_torch,
                               **TOL)
    save_model(loaded, tmp_path / "again.safetensors")  # straight from the deferred state
    again = load_model(tmp_path / "again.safetensors").set_params(backend="torch")
    np.testing.assert_allclose(again.transform(X), with_torch, **TOL)


def test_a_file_with_other_weights_does_not_use_the_cached_graph(tmp_path):
    import torch

    path, _ = _saved(tmp_path)
    other = load_model(path)
    with torch.no_grad():
        other.backbone_.conv_stem.weight.mul_(2)
    save_model(other, tmp_path / "other.safetensors")
    expected = load_model(tmp_path / "other.safetensors").set_params(
        backend="torch").transform(X)
    loaded = load_model(tmp_path / "other.safetensors")
    assert "_deferred" not in vars(loaded)  # no graph of these weights yet
    np.testing.assert_allclose(loaded.transform(X), expected, **TOL)


def test_digest_is_the_same_for_torch_tensors_and_numpy_arrays():
    import torch

    tensors = {
        "w": torch.randn(3, 4),
        "t": torch.randn(4, 3).t(),  # not contiguous
        "scalar": torch.tensor(2.5),  # 0-d
        "count": torch.tensor(7, dtype=torch.int64),
        "half": torch.randn(5).to(torch.float16),
        "empty": torch.zeros(0, 3),
    }
    arrays = {k: v.numpy() for k, v in tensors.items()}
    assert _tensors.digest("{}", tensors) == _tensors.digest("{}", arrays)
    assert _tensors.digest("{}", tensors) != _tensors.digest('{"a": 1}', arrays)
    arrays["scalar"] = np.array(2.25, dtype=np.float32)
    assert _tensors.digest("{}", tensors) != _tensors.digest("{}", arrays)


def test_estimator_class_by_name_equals_the_full_table():
    table = _registry._estimators()
    for name, cls in table.items():
        assert _registry.estimator_class(name) is cls, name
    for name in ("os.system", "skin_estimators.load_model", "skin_estimators.", "builtins.eval"):
        with pytest.raises(KeyError):
            _registry.estimator_class(name)


@pytest.mark.parametrize("omp, expected", [("3", 3), (None, 0), ("junk", 0)])
def test_onnxruntime_threads_without_torch(monkeypatch, omp, expected):
    monkeypatch.delitem(sys.modules, "torch")  # as if torch were not imported (restored after)
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert _onnx_backend._threads() == expected


def test_onnxruntime_threads_follow_torch(monkeypatch):
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert _onnx_backend._threads() == max(1, torch.get_num_threads())
