"""EfficientNetLiteClassifier(trainable_stages=k): only the last k stages and the head train."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skin_estimators import EfficientNetLiteClassifier
from skin_estimators.persistence import load_model, save_model

X = np.random.RandomState(0).randn(6, 3, 32, 32).astype("float32")
y = np.array(["acne", "herpes", "lichen"] * 2)
FIT = dict(pretrained=False, max_epochs=2, batch_size=3, random_state=0)


def _parts(state_a, state_b):
    """Top-level parts (``blocks.N`` for the stages) whose tensors differ."""
    changed = set()
    for name in state_a:
        if not torch.equal(state_a[name].float(), state_b[name].float()):
            head, *rest = name.split(".")
            changed.add(f"{head}.{rest[0]}" if head == "blocks" else head)
    return changed


@pytest.mark.parametrize("k", [0, 2, 7])
def test_only_the_last_stages_change(k):
    # Same seed, same initial weights: the head-only model keeps every backbone tensor as
    # initialised, so what differs from it is exactly what trainable_stages let train.
    head_only = EfficientNetLiteClassifier(freeze_backbone=True, **FIT).fit(X, y)
    partial = EfficientNetLiteClassifier(trainable_stages=k, **FIT).fit(X, y)
    changed = _parts(partial.module_.state_dict(), head_only.module_.state_dict())
    trained = {f"blocks.{i}" for i in range(7 - k, 7)} | {"conv_head", "bn2", "classifier"}
    assert changed - {"classifier"} == trained - {"classifier"}
    frozen = [p for n, p in partial.module_.named_parameters()
              if n.startswith(("conv_stem", "bn1")) or
              (n.startswith("blocks.") and int(n.split(".")[1]) < 7 - k)]
    assert frozen and all(not p.requires_grad for p in frozen)  # the stem always stays


def test_frozen_batchnorm_keeps_its_statistics_and_probabilities_are_finite():
    clf = EfficientNetLiteClassifier(trainable_stages=1, **FIT).fit(X, y)
    ref = EfficientNetLiteClassifier(freeze_backbone=True, **FIT).fit(X, y)
    a, b = clf.module_.state_dict(), ref.module_.state_dict()
    for name in a:
        if name.startswith("blocks.3") and "running_mean" in name:
            assert torch.equal(a[name], b[name])
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(1), 1, atol=1e-5)


def test_fewer_trainable_parameters_than_full_fine_tuning():
    def n_trainable(**kw):
        clf = EfficientNetLiteClassifier(**FIT, **kw).fit(X, y)
        return sum(p.numel() for p in clf.module_.parameters() if p.requires_grad)

    assert n_trainable(freeze_backbone=True) < n_trainable(trainable_stages=0) \
        < n_trainable(trainable_stages=2) < n_trainable(trainable_stages=7) < n_trainable()


@pytest.mark.parametrize("params, match", [
    (dict(trainable_stages=2, freeze_backbone=True), "cannot be combined"),
    (dict(trainable_stages=8), "trainable_stages must be None or an int in the range"),
    (dict(trainable_stages=1.5), "trainable_stages"),
])
def test_bad_values_name_the_parameter(params, match):
    with pytest.raises(ValueError, match=match):
        EfficientNetLiteClassifier(pretrained=False, **params).fit(X, y)


def test_clone_and_safe_round_trip(tmp_path):
    clf = EfficientNetLiteClassifier(trainable_stages=2, **FIT)
    assert clone(clf).get_params()["trainable_stages"] == 2
    clf.fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.trainable_stages == 2
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-5)
