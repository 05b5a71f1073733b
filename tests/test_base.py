"""The shared base estimator: class weights, labels, devices, seeding, augmentation, errors."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skin_estimators import SkinNetClassifier, VanillaCNNClassifier
from skin_estimators.networks import MLP


def _study_labels():
    return np.array(["acne"] * 40 + ["herpes_simplex"] * 16 + ["lichen_planus"] * 46)


def test_balanced_class_weights_are_the_studys_and_reach_the_loss(rng):
    y = _study_labels()
    X = rng.randn(len(y), 5).astype(np.float32)
    clf = SkinNetClassifier(MLP, max_epochs=1, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, [0.85, 2.125, 0.7391304], rtol=1e-6)
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), clf.class_weight_)
    assert clf.get_params()["class_weight"] == "balanced"  # the parameter never changes
    # the weights really enter the loss the net minimises
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 1, 2, 1, 0, 2])
    expected = torch.nn.functional.cross_entropy(logits, target, weight=torch.tensor(clf.class_weight_))
    torch.testing.assert_close(clf.get_loss(logits, target), expected)


def test_class_weights_follow_each_fit(rng):
    X = rng.randn(20, 3).astype(np.float32)
    clf = SkinNetClassifier(MLP, max_epochs=1)
    clf.fit(X, np.array([0] * 10 + [1] * 10))
    np.testing.assert_allclose(clf.class_weight_, [1.0, 1.0])
    clf.fit(X, np.array([0] * 15 + [1] * 5))
    np.testing.assert_allclose(clf.class_weight_, [20 / 30, 20 / 10])


def test_class_weight_none_and_dict(rng):
    X = rng.randn(20, 3).astype(np.float32)
    y = np.array(["a"] * 15 + ["b"] * 5)
    clf = SkinNetClassifier(MLP, max_epochs=1, class_weight=None).fit(X, y)
    assert clf.class_weight_ is None and clf.criterion_.weight is None
    clf = SkinNetClassifier(MLP, max_epochs=1, class_weight={"a": 1.0, "b": 3.0}).fit(X, y)
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), [1.0, 3.0])
    with pytest.raises(ValueError, match="class_weight"):
        SkinNetClassifier(MLP, class_weight="bogus").fit(X, y)


def test_invalid_parameters_fail_at_fit_not_init(rng):
    X = rng.randn(10, 3).astype(np.float32)
    y = np.arange(10) % 2
    clf = SkinNetClassifier(MLP, max_epochs=0, augment="spin")  # constructing never fails
    with pytest.raises(ValueError, match="max_epochs"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="augment"):
        clf.set_params(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="lr"):
        SkinNetClassifier(MLP, lr=-1.0).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error_at_fit(rng):
    clf = SkinNetClassifier(MLP, device="cuda")  # no error yet
    with pytest.raises(RuntimeError, match="device='auto'"):
        clf.fit(rng.randn(10, 3).astype(np.float32), np.arange(10) % 2)


def test_device_auto_resolves_but_parameter_stays_auto():
    clf = SkinNetClassifier(MLP)
    assert clf.get_params()["device"] == "auto"
    assert clf.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert clone(clf).get_params()["device"] == "auto"
    assert "device='auto'" in repr(clf) or "device" not in repr(clf)


def test_seed_reproducible_and_global_rng_untouched(rng):
    X = rng.randn(30, 4).astype(np.float32)
    y = np.arange(30) % 3
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    p1 = SkinNetClassifier(MLP, max_epochs=3, random_state=7).fit(X, y).predict_proba(X)
    assert torch.equal(torch.random.get_rng_state(), before)
    p2 = SkinNetClassifier(MLP, max_epochs=3, random_state=7).fit(X, y).predict_proba(X)
    p3 = SkinNetClassifier(MLP, max_epochs=3, random_state=8).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)


class _CountingAugment:
    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return x.flip(-1)


def test_augmentation_only_while_training(tiny_images):
    X, y = tiny_images
    augment = _CountingAugment()
    clf = VanillaCNNClassifier(max_epochs=2, batch_size=4, augment=augment, random_state=0)
    clf.fit(X, y)
    assert clf.augmenter_.calls == 6  # 12 images / batch 4 * 2 epochs
    calls = clf.augmenter_.calls
    clf.predict_proba(X)
    assert clf.augmenter_.calls == calls


@pytest.mark.parametrize("augment", ["hflip", "vflip", "rot90", "affine", "resized_crop", "color",
                                     ["hflip", "affine"]])
def test_builtin_augmentations_keep_shape(augment, tiny_images):
    from skin_estimators.classifiers._augment import make_augmenter

    X = torch.from_numpy(tiny_images[0])
    out = make_augmenter(augment)(X)
    assert out.shape == X.shape and out.dtype == X.dtype and torch.isfinite(out).all()


def test_hflip_mirrors_about_half_the_images():
    from skin_estimators.classifiers._augment import hflip

    torch.manual_seed(0)
    x = torch.arange(2 * 4.0).reshape(1, 1, 2, 4).repeat(1000, 1, 1, 1)
    flipped = (hflip(x) != x).flatten(1).any(1).float().mean().item()
    assert 0.4 < flipped < 0.6


def test_verbose_is_opt_in(capsys, rng):
    X = rng.randn(10, 3).astype(np.float32)
    y = np.arange(10) % 2
    SkinNetClassifier(MLP, max_epochs=2).fit(X, y)
    assert capsys.readouterr().out == ""
    SkinNetClassifier(MLP, max_epochs=2, verbose=1).fit(X, y)
    assert "train_loss" in capsys.readouterr().out


def test_score_with_labels_of_another_type_is_a_clear_error(rng):
    X = rng.randn(20, 3).astype(np.float32)
    y = np.array(["acne", "lichen_planus"] * 10)
    clf = SkinNetClassifier(MLP, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="type"):
        clf.score(X, np.arange(20) % 2)


def test_lone_last_sample_is_dropped_not_crashing(rng):
    # BatchNorm1d cannot train on a batch of one; 9 samples with batch 4 leave one alone.
    class BNNet(torch.nn.Module):
        def __init__(self, input_shape, n_classes):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(input_shape[0], 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, n_classes)
            )

        def forward(self, x):
            return self.net(x)

    X = rng.randn(9, 3).astype(np.float32)
    SkinNetClassifier(BNNet, max_epochs=2, batch_size=4).fit(X, np.arange(9) % 2)


@pytest.mark.cuda
def test_cuda_fit_then_cpu_load(tmp_path, tiny_images):
    import joblib

    X, y = tiny_images
    clf = VanillaCNNClassifier(max_epochs=1, device="cuda", random_state=0).fit(X, y)
    assert next(clf.module_.parameters()).is_cuda
    joblib.dump(clf, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-5)


@pytest.mark.cuda
def test_cuda_seeded_fits_are_deterministic(tiny_images):
    X, y = tiny_images
    p = [VanillaCNNClassifier(max_epochs=2, device="cuda", random_state=0).fit(X, y).predict_proba(X)
         for _ in range(2)]
    np.testing.assert_array_equal(*p)


def test_validation_split_scores_accuracy_on_string_labels(rng):
    # skorch's default valid_acc used to call our validating predict with a skorch Dataset.
    from skorch.dataset import ValidSplit

    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "acne", "lichen_planus")
    clf = SkinNetClassifier(
        MLP, max_epochs=3, lr=0.1, train_split=ValidSplit(3, stratified=True), random_state=0
    ).fit(X, y)
    accs = clf.history[:, "valid_acc"]
    assert len(accs) == 3 and all(0.0 <= a <= 1.0 for a in accs)
    assert all(np.isfinite(clf.history[:, "valid_loss"]))
    assert set(clf.predict(X)) <= {"acne", "lichen_planus"}


def test_tta_hflip_averages_image_and_mirror(tiny_images):
    X, y = tiny_images
    clf = VanillaCNNClassifier(max_epochs=2, batch_size=4, random_state=0).fit(X, y)
    plain, mirror = clf.predict_proba(X), clf.predict_proba(X[..., ::-1].copy())
    clf.set_params(tta="hflip")
    np.testing.assert_allclose(clf.predict_proba(X), (plain + mirror) / 2, rtol=1e-5, atol=1e-6)
    assert clf.predict(X).tolist() == clf.classes_[np.argmax(plain + mirror, axis=1)].tolist()
    # Same fit whatever tta says: it only acts at prediction time.
    tta = VanillaCNNClassifier(max_epochs=2, batch_size=4, random_state=0, tta="hflip").fit(X, y)
    np.testing.assert_allclose(tta.predict_proba(X), clf.predict_proba(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tta, match", [("vflip", "tta must be None or 'hflip'"), (True, "tta must")])
def test_tta_invalid_is_a_clear_error_at_fit(tta, match, tiny_images):
    X, y = tiny_images
    clf = VanillaCNNClassifier(max_epochs=1, tta=tta)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_tta_on_tables_is_a_clear_error(rng):
    X = rng.normal(size=(20, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="2-D tables"):
        SkinNetClassifier(MLP, max_epochs=1, tta="hflip").fit(X, X[:, 0] > 0)
