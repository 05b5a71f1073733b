"""ResNet50Classifier and BiTClassifier: weights from the hub cache, files or nowhere; fine-tuning
options; scikit-learn composition. Everything runs offline on tiny images with random weights."""

import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
import timm
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.callbacks import Callback

from skin_estimators import BiTClassifier, ResNet50Classifier, download_weights
from skin_estimators.networks import WeightsUnavailableError, pretrained_stats
from skin_estimators.utils._precision import autocast_dtype

TAGS = {ResNet50Classifier: "resnet50.tv_in1k", BiTClassifier: "resnetv2_101x1_bit.goog_in21k"}
SIZE = 32
CLASSES = ("acne", "herpes_simplex", "lichen_planus")


def _load_skin3(root, per_class=4, size=SIZE):
    """A few skin3 photos per class, resized and scaled to [-1, 1] (BiT's normalisation)."""
    from PIL import Image

    images, labels = [], []
    for label in CLASSES:
        for path in sorted((root / label).glob("*.jpg"))[:per_class]:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB").resize((size, size)), dtype=np.float32)
            images.append(arr.transpose(2, 0, 1) / 127.5 - 1.0)
            labels.append(label)
    return np.stack(images), np.array(labels)


@pytest.fixture(scope="module")
def skin3(skin3_root):
    return _load_skin3(skin3_root)


@pytest.fixture
def weights_dir(tmp_path):
    """A temporary folder for weight files (up to 170 MB each), emptied after the test:
    pytest keeps the temporary folders of the last runs."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


class Snapshot(Callback):
    """Copies the network's state dict just before the first training step."""

    def on_train_begin(self, net, **kwargs):
        self.state_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}


def _tiny(cls, **kwargs):
    params = dict(pretrained=False, max_epochs=1, batch_size=4, random_state=0, device="cpu")
    params.update(kwargs)
    return cls(**params)


@pytest.fixture(scope="module", params=[ResNet50Classifier, BiTClassifier])
def fitted(request, skin3):
    X, y = skin3
    return _tiny(request.param).fit(X, y)


def _head_prefix(model):
    head = model.get_classifier()
    return next(n for n, m in model.named_modules() if m is head) + "."


# ---------------------------------------------------------------------------- architecture
def test_trainable_parameter_counts(fitted):
    counts = {ResNet50Classifier: 23_514_179, BiTClassifier: 42_498_627}
    n = sum(p.numel() for p in fitted.module_.parameters() if p.requires_grad)
    assert n == counts[type(fitted)]


def test_study_defaults_and_full_tags():
    r, b = ResNet50Classifier(), BiTClassifier()
    assert (r.batch_size, r.lr, r.max_epochs) == (32, 0.013, 26)
    assert (b.batch_size, b.lr, b.max_epochs) == (4, 0.0031, 22)
    for est in (r, b):
        assert est.pretrained is True and est.freeze_backbone is False
        assert est.augment == "hflip" and est.class_weight == "balanced" and est.channels_last
        assert est.optimizer is torch.optim.SGD
        assert est._timm_tag == TAGS[type(est)]


def test_pretrained_statistics_match_timm_and_normalizer_presets():
    from skin_estimators.preprocessing import NORMALIZATION_PRESETS

    presets = {ResNet50Classifier: "imagenet", BiTClassifier: "bit"}
    for cls, tag in TAGS.items():
        assert (cls.pretrained_mean, cls.pretrained_std) == pretrained_stats(tag)
        preset = NORMALIZATION_PRESETS[presets[cls]]
        assert tuple(preset["mean"]) == cls.pretrained_mean
        assert tuple(preset["std"]) == cls.pretrained_std
        assert f"ChannelNormalizer(mean={presets[cls]!r})" in cls.__doc__


def test_any_image_size_and_labels_returned(fitted, skin3):
    X, y = skin3
    assert fitted.predict_proba(X).shape == (len(X), 3)
    assert set(fitted.predict(X)) <= set(CLASSES)
    big = np.zeros((2, 3, 48, 40), dtype=np.float32)  # global pooling: other sizes work
    assert fitted.predict_proba(big).shape == (2, 3)


def test_too_small_images_are_refused():
    X = np.zeros((4, 3, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="at least 16x16"):
        _tiny(ResNet50Classifier).fit(X, [0, 1, 0, 1])


def test_constructor_and_import_touch_nothing(monkeypatch):
    import huggingface_hub

    def boom(*a, **k):
        raise AssertionError("network used")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    monkeypatch.setattr(timm, "create_model", boom)
    est = BiTClassifier(pretrained="/does/not/exist.npz", precision="nonsense")
    clone(est)
    assert est.get_params()["pretrained"] == "/does/not/exist.npz"


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(pretrained=3), "pretrained must be"),
        (dict(schedule="cosine"), "schedule must be"),
        (dict(precision="fp8"), "precision must be"),
        (dict(pretrained="/nonexistent/weights.safetensors"), "not a file"),
    ],
)
def test_bad_parameters_fail_at_fit(params, match, skin3):
    X, y = skin3
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        _tiny(ResNet50Classifier, **params).fit(X, y)


# ---------------------------------------------------------------------------- local weights
def _save_state_dict(model, path):
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)


def _save_bit_npz(model, path, prefix="resnet/"):
    """Write a timm BiT model in the layout of Google's original checkpoints (inverse of
    timm.models.resnetv2._load_weights): HWIO kernels, slash-separated names."""

    def p2t(t):
        a = t.detach().numpy()
        return a.transpose(2, 3, 1, 0) if a.ndim == 4 else a

    w = {
        f"{prefix}root_block/standardized_conv2d/kernel": p2t(model.stem.conv.weight),
        f"{prefix}group_norm/gamma": p2t(model.norm.weight),
        f"{prefix}group_norm/beta": p2t(model.norm.bias),
        f"{prefix}head/conv2d/kernel": p2t(model.head.fc.weight),
        f"{prefix}head/conv2d/bias": p2t(model.head.fc.bias),
    }
    for i, (_, stage) in enumerate(model.stages.named_children()):
        for j, (_, block) in enumerate(stage.blocks.named_children()):
            bp = f"{prefix}block{i + 1}/unit{j + 1:02d}/"
            for letter, n in (("a", 1), ("b", 2), ("c", 3)):
                w[f"{bp}{letter}/standardized_conv2d/kernel"] = p2t(getattr(block, f"conv{n}").weight)
                w[f"{bp}{letter}/group_norm/gamma"] = p2t(getattr(block, f"norm{n}").weight)
                w[f"{bp}{letter}/group_norm/beta"] = p2t(getattr(block, f"norm{n}").bias)
            if block.downsample is not None:
                w[f"{bp}a/proj/standardized_conv2d/kernel"] = p2t(block.downsample.conv.weight)
    np.savez(path, **w)


@pytest.mark.parametrize(
    "cls, suffix",
    [
        (ResNet50Classifier, ".safetensors"),
        (ResNet50Classifier, ".pth"),
        (BiTClassifier, ".safetensors"),
        (BiTClassifier, ".npz"),
    ],
)
def test_local_weights_round_trip(cls, suffix, weights_dir, skin3):
    X, y = skin3
    torch.manual_seed(123)
    if cls is ResNet50Classifier and suffix == ".pth":
        # torchvision's own model: the study's weights come as torchvision state dicts
        import torchvision

        source = torchvision.models.resnet50()
    else:
        source = timm.create_model(TAGS[cls], pretrained=False)  # 1000/21843-class head
    path = weights_dir / f"weights{suffix}"
    if suffix == ".npz":
        _save_bit_npz(source, path)
    else:
        _save_state_dict(source, path)
    expected = source.state_dict()

    snap = Snapshot()
    # freeze_backbone only to keep the test fast: the snapshot is taken before any step
    clf = _tiny(cls, pretrained=str(path), freeze_backbone=True,
                callbacks=[("snap", snap)]).fit(X[::2], y[::2])
    head = _head_prefix(clf.module_)
    backbone = [k for k in expected if not k.startswith(head)]
    assert backbone
    for key in backbone:
        if key.endswith("num_batches_tracked"):
            continue
        assert torch.equal(snap.state_[key], expected[key]), key
    out = clf.module_.get_classifier()
    assert getattr(out, "out_features", None) == 3 or getattr(out, "out_channels", None) == 3
    assert clf.predict_proba(X[:2]).shape == (2, 3)


def test_weights_of_another_architecture_are_refused(weights_dir, skin3):
    X, y = skin3
    path = weights_dir / "resnet18.safetensors"
    _save_state_dict(timm.create_model("resnet18", pretrained=False), path)
    with pytest.raises(ValueError, match=r"does not hold weights for timm model 'resnet50\.tv_in1k'"):
        _tiny(ResNet50Classifier, pretrained=path).fit(X, y)


def test_unreadable_weights_file_is_named(tmp_path, skin3):
    X, y = skin3
    path = tmp_path / "broken.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not load the weights file .*broken.pth"):
        _tiny(ResNet50Classifier, pretrained=path).fit(X, y)


def test_npz_is_only_for_bit(tmp_path, skin3):
    X, y = skin3
    path = tmp_path / "w.npz"
    np.savez(path, a=np.zeros(1))
    with pytest.raises(ValueError, match="only BiT"):
        _tiny(ResNet50Classifier, pretrained=path).fit(X, y)


# ---------------------------------------------------------------------------- hub cache / offline
def _offline_env(monkeypatch, cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))


@pytest.mark.parametrize("cls", [ResNet50Classifier, BiTClassifier])
def test_offline_without_cache_gives_clear_error_at_fit(cls, tmp_path, monkeypatch, skin3):
    X, y = skin3
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    _offline_env(monkeypatch, cache)
    est = cls(max_epochs=1)  # construction is fine offline
    with pytest.raises(WeightsUnavailableError) as info:
        est.fit(X, y)
    msg = str(info.value)
    assert TAGS[cls] in msg
    assert str(cache) in msg
    assert 'pretrained="path/to/weights"' in msg
    assert "download-weights" in msg and "pretrained=False" in msg


def test_unreachable_hub_gives_clear_error(tmp_path, monkeypatch, skin3):
    """Not flagged offline, but the download fails as it does without a network."""
    import huggingface_hub.constants
    import timm.models._hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    X, y = skin3
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))

    def no_network(*args, **kwargs):
        raise LocalEntryNotFoundError("Please check your connection")

    monkeypatch.setattr(timm.models._hub, "hf_hub_download", no_network)
    with pytest.raises(WeightsUnavailableError, match='pretrained="path/to/weights"') as info:
        ResNet50Classifier(max_epochs=1).fit(X, y)
    assert "could not be reached" in str(info.value)
    assert isinstance(info.value.__cause__, LocalEntryNotFoundError)


def _fake_hub_cache(cache, tag, model):
    """Lay a weights file out as huggingface_hub's cache does (refs/main -> snapshot)."""
    repo = cache / f"models--timm--{tag}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    _save_state_dict(model, snapshot / "model.safetensors")
    return snapshot / "model.safetensors"


def test_cached_hub_weights_load_offline(weights_dir, monkeypatch, skin3):
    X, y = skin3
    torch.manual_seed(7)
    source = timm.create_model("resnet50.tv_in1k", pretrained=False)
    cached = _fake_hub_cache(weights_dir, "resnet50.tv_in1k", source)
    _offline_env(monkeypatch, weights_dir)
    snap = Snapshot()
    ResNet50Classifier(max_epochs=1, batch_size=6, callbacks=[("snap", snap)],
                       random_state=0).fit(X[::2], y[::2])
    assert torch.equal(snap.state_["conv1.weight"], source.state_dict()["conv1.weight"])
    assert torch.equal(snap.state_["layer4.2.bn3.running_var"],
                       source.state_dict()["layer4.2.bn3.running_var"])
    # download_weights finds the same file without a network
    assert download_weights("resnet50") == str(cached)


def test_download_weights(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, cache_dir=None, **kwargs):
        calls.append((repo_id, filename, cache_dir))
        return os.path.join(cache_dir, filename)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    path = download_weights("bit", cache_dir=tmp_path)
    assert calls == [("timm/resnetv2_101x1_bit.goog_in21k", "model.safetensors", str(tmp_path))]
    assert path == os.path.join(str(tmp_path), "model.safetensors")
    with pytest.raises(ValueError, match="Unknown backbone"):
        download_weights("vgg16")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="resnet50.tv_in1k"):
        download_weights("resnet50", cache_dir=tmp_path)


def test_cli_download_weights(weights_dir, monkeypatch, capsys):
    from skin_estimators import cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(["download-weights", "bit", "--cache-dir", str(weights_dir)]) == 1
    assert "resnetv2_101x1_bit.goog_in21k" in capsys.readouterr().err
    torch.manual_seed(0)
    _fake_hub_cache(weights_dir, "resnet50.tv_in1k", timm.create_model("resnet50.tv_in1k"))
    assert cli.main(["download-weights", "resnet50", "--cache-dir", str(weights_dir)]) == 0
    assert "model.safetensors" in capsys.readouterr().out


# ---------------------------------------------------------------------------- fine-tuning options
def test_freeze_backbone_keeps_parameters_and_statistics(skin3):
    X, y = skin3
    snap = Snapshot()
    clf = _tiny(ResNet50Classifier, freeze_backbone=True, lr=0.5,
                callbacks=[("snap", snap)]).fit(X, y)
    after = clf.module_.state_dict()
    assert sum(p.numel() for p in clf.module_.parameters() if p.requires_grad) == 2048 * 3 + 3
    for key, value in snap.state_.items():
        if key.startswith("fc."):
            assert not torch.equal(value, after[key]), "the head should train"
        else:
            assert torch.equal(value, after[key]), key  # BatchNorm running stats included
    opt_params = {id(p) for g in clf.optimizer_.param_groups for p in g["params"]}
    assert opt_params == {id(p) for p in clf.module_.fc.parameters()}


def test_bit_freeze_backbone(skin3):
    X, y = skin3
    snap = Snapshot()
    clf = _tiny(BiTClassifier, freeze_backbone=True, callbacks=[("snap", snap)]).fit(X, y)
    after = clf.module_.state_dict()
    changed = {k for k in snap.state_ if not torch.equal(snap.state_[k], after[k])}
    assert changed == {"head.fc.weight", "head.fc.bias"}


def test_hyperrule(skin3):
    from skin_estimators.callbacks import hyperrule_factor

    X, y = skin3
    snap = Snapshot()
    clf = _tiny(ResNet50Classifier, schedule="hyperrule", freeze_backbone=True, max_epochs=5,
                batch_size=4, lr=0.1, callbacks=[("snap", snap)]).fit(X, y)
    assert torch.count_nonzero(snap.state_["fc.weight"]) == 0  # zero-initialised head
    assert torch.count_nonzero(snap.state_["fc.bias"]) == 0
    assert clf.optimizer_.param_groups[0]["momentum"] == 0.9
    lrs = [b["lr"] for epoch in clf.history for b in epoch["batches"]]
    total = 5 * 3  # 12 images, batch 4
    assert lrs == pytest.approx([0.1 * hyperrule_factor(s, total) for s in range(total)])
    assert lrs[0] < lrs[3] == pytest.approx(0.1) and lrs[-1] == pytest.approx(1e-4)
    # the study's setting: no momentum, no schedule
    plain = _tiny(ResNet50Classifier, freeze_backbone=True).fit(X, y)
    assert plain.optimizer_.param_groups[0]["momentum"] == 0
    assert "lr" not in plain.history[-1, "batches"][0]
    # an explicit momentum wins
    mom = _tiny(ResNet50Classifier, schedule="hyperrule", freeze_backbone=True,
                optimizer__momentum=0.5).fit(X, y)
    assert mom.optimizer_.param_groups[0]["momentum"] == 0.5


def test_hyperrule_factor_shape():
    from skin_estimators.callbacks import hyperrule_factor

    f = [hyperrule_factor(s, 100) for s in range(100)]
    assert f[0] == pytest.approx(0.05) and f[19] == pytest.approx(1.0)
    assert f[39] == 1.0 and f[40] == pytest.approx(0.1)
    assert f[60] == pytest.approx(0.01) and f[99] == pytest.approx(0.001)


# ---------------------------------------------------------------------------- precision
class _TinyNet(torch.nn.Module):
    """A small timm-like network (with get_classifier) to exercise precision paths fast."""

    def __init__(self, tag=None, n_classes=2, pretrained=False, zero_init_head=False, owner=None):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
        )
        self.fc = torch.nn.Linear(8, n_classes)

    def get_classifier(self):
        return self.fc

    def forward(self, x):
        return self.fc(self.body(x))


def test_precision_resolution(monkeypatch):
    assert autocast_dtype("auto", "cpu") is None
    assert autocast_dtype("fp32", "cuda") is None and autocast_dtype("32", "cuda") is None
    assert autocast_dtype("bf16", "cpu") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert autocast_dtype("auto", "cuda") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert autocast_dtype("auto", "cuda:0") is torch.float16


@pytest.mark.parametrize("precision", ["auto", "fp32", "bf16", "fp16"])
def test_precisions_train_on_cpu(precision, skin3):
    X, y = skin3
    clf = _tiny(ResNet50Classifier, module=_TinyNet, precision=precision, max_epochs=3, lr=0.1)
    clf.fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float32 and np.allclose(proba.sum(axis=1), 1, atol=1e-3)
    assert np.isfinite(clf.history[:, "train_loss"]).all()
    assert (clf.grad_scaler_ is not None) == (precision == "fp16")
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X), proba, rtol=1e-5, atol=1e-6)


def test_bf16_autocast_runs_the_real_backbone(skin3):
    X, y = skin3
    clf = _tiny(BiTClassifier, precision="bf16", freeze_backbone=True).fit(X[::2], y[::2])
    assert np.isfinite(clf.predict_proba(X[:2])).all()


# ---------------------------------------------------------------------------- composition
@pytest.mark.parametrize("pretrained", [True, "weights.pth", False],
                         ids=["hub", "local-path", "none"])
def test_loading_a_model_file_never_fetches_the_pretrained_weights(fitted, tmp_path,
                                                                    monkeypatch, skin3,
                                                                    pretrained):
    """The persistence hook: the file's weights replace the checkpoint's, so none is read.

    The estimator's ``pretrained`` (the hub, a path, or none) is kept as a record of how the
    model was trained, never followed: the path below does not even exist here.
    """
    import copy

    from skin_estimators import load_model, save_model

    X, _ = skin3
    if pretrained == "weights.pth":
        pretrained = str(tmp_path / "gone" / "weights.pth")
    est = copy.deepcopy(fitted)
    est.pretrained = pretrained  # as if fine-tuned from these weights
    save_model(est, tmp_path / "m.safetensors")
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    _offline_env(monkeypatch, cache)  # any attempt to fetch the checkpoint would fail
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.pretrained == pretrained and "_fetch_pretrained" not in vars(loaded)
    np.testing.assert_allclose(loaded.predict_proba(X), fitted.predict_proba(X), atol=1e-6)


def test_clone_keeps_new_parameters(fitted):
    fresh = clone(fitted)
    assert type(fresh) is type(fitted) and not hasattr(fresh, "module_")
    params = fresh.get_params(deep=False)
    assert params["pretrained"] is False and params["schedule"] == "constant"
    assert params["precision"] == "auto" and params["freeze_backbone"] is False


@pytest.mark.parametrize("cls", [ResNet50Classifier, BiTClassifier])
def test_grid_search(cls, skin3):
    X, y = skin3
    grid = GridSearchCV(
        _tiny(cls),
        {"lr": [0.001, 0.01], "batch_size": [4], "max_epochs": [1]},
        cv=2,
        error_score="raise",
    )
    grid.fit(X, y)
    assert set(grid.best_params_) == {"lr", "batch_size", "max_epochs"}
    assert grid.predict(X[:3]).shape == (3,)
    assert sum(p.numel() for p in grid.best_estimator_.module_.parameters()) > 20_000_000


def test_pipeline_with_function_transformer(skin3):
    X, y = skin3
    pipe = make_pipeline(FunctionTransformer(np.negative), _tiny(ResNet50Classifier))
    assert pipe.fit(X, y).predict(X[:2]).shape == (2,)


@pytest.mark.parametrize("mean", [None, "bit"])  # the study's statistics, BiT's own
def test_pipeline_from_files(mean, skin3_root):
    from skin_estimators import ChannelNormalizer, ImageLoader

    files = [str(p) for c in CLASSES for p in sorted((skin3_root / c).glob("*.jpg"))[:4]]
    labels = [Path(f).parent.name for f in files]
    pipe = make_pipeline(ImageLoader(size=SIZE), ChannelNormalizer(mean=mean),
                         _tiny(BiTClassifier, freeze_backbone=True))
    assert set(pipe.fit(files, labels).predict(files[:3])) <= set(CLASSES)


# ---------------------------------------------------------------------------- CUDA only
@pytest.mark.cuda
def test_mixed_precision_needs_less_gpu_memory():
    rng = np.random.RandomState(0)
    X = rng.randn(8, 3, 224, 224).astype(np.float32)
    y = np.array([0, 1] * 4)
    peaks = {}
    for precision in ("fp32", "auto"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        BiTClassifier(pretrained=False, precision=precision, max_epochs=1, device="cuda",
                      random_state=0).fit(X, y)
        peaks[precision] = torch.cuda.max_memory_allocated()
    assert peaks["auto"] < 0.8 * peaks["fp32"]


@pytest.mark.cuda
def test_cuda_trained_model_predicts_on_cpu_only_machine(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(8, 3, 64, 64).astype(np.float32)
    y = np.array(["a", "b"] * 4)
    clf = BiTClassifier(pretrained=False, max_epochs=1, device="auto", precision="fp32",
                        random_state=0).fit(X, y)
    assert next(clf.module_.parameters()).is_cuda
    joblib.dump(clf, tmp_path / "m.joblib")
    np.save(tmp_path / "X.npy", X[:3])
    script = textwrap.dedent(f"""
        import joblib, numpy as np, torch
        assert not torch.cuda.is_available()
        clf = joblib.load({str(tmp_path / "m.joblib")!r})
        np.save({str(tmp_path / "P.npy")!r}, clf.predict_proba(np.load({str(tmp_path / "X.npy")!r})))
    """)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    np.testing.assert_allclose(np.load(tmp_path / "P.npy"), clf.predict_proba(X[:3]), atol=1e-3)
