"""The study's vanilla CNN: size, shapes and the input sizes it accepts."""

import numpy as np
import pytest
import torch

from skin_estimators import VanillaCNNClassifier
from skin_estimators.networks import VanillaCNN


def _n_trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_parameter_count_matches_the_study():
    assert _n_trainable(VanillaCNN(input_shape=(3, 400, 400), n_classes=3)) == 1_044_003


def test_estimator_sizes_its_linear_layer_from_the_data():
    X = np.random.RandomState(0).randn(2, 3, 400, 400).astype(np.float32)
    clf = VanillaCNNClassifier(max_epochs=1, batch_size=2).fit(X, ["acne", "herpes"])
    assert clf.input_shape_ == (3, 400, 400)
    assert _n_trainable(clf.module_) == 1_044_003 - 128 * 50 * 50 - 1  # 2 classes, not 3


@pytest.mark.parametrize("size", [8, 9, 31])
def test_any_size_from_8(size):
    X = np.random.RandomState(0).randn(4, 3, size, size).astype(np.float32)
    clf = VanillaCNNClassifier(max_epochs=1, batch_size=2).fit(X, [0, 1, 0, 1])
    assert clf.predict(X).shape == (4,)


def test_too_small_and_wrong_size_images_are_clear_errors():
    X = np.zeros((4, 3, 7, 7), np.float32)
    with pytest.raises(ValueError, match="at least 8x8"):
        VanillaCNNClassifier(max_epochs=1).fit(X, [0, 1, 0, 1])
    clf = VanillaCNNClassifier(max_epochs=1).fit(np.zeros((4, 3, 16, 16), np.float32), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="ImageLoader"):
        clf.predict(np.zeros((1, 3, 24, 24), np.float32))


def test_channels_last_gives_the_same_network_output():
    torch.manual_seed(0)
    net = VanillaCNN(input_shape=(3, 32, 32), n_classes=3).eval()
    x = torch.randn(2, 3, 32, 32)
    ref = net(x)
    out = net.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_study_defaults():
    params = VanillaCNNClassifier().get_params()
    assert (params["lr"], params["batch_size"], params["max_epochs"]) == (0.0001, 4, 26)
    assert params["optimizer"] is torch.optim.SGD and params["class_weight"] == "balanced"
    assert params["augment"] == "hflip" and params["train_split"] is None
