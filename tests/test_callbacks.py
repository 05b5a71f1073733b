import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback

from skin_estimators import ScatteringClassifier, SkinNetClassifier
from skin_estimators.callbacks import WeightAveraging
from skin_estimators.networks import MLP


class _Snapshots(Callback):
    def initialize(self):
        self.params_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.params_.append([p.detach().clone() for p in net.module_.parameters()])


def test_weight_averaging_is_the_mean_of_the_last_epochs(rng):
    X = rng.normal(size=(40, 4)).astype(np.float32)
    snaps = _Snapshots()
    clf = SkinNetClassifier(
        MLP, max_epochs=6, lr=0.1, callbacks=[snaps, WeightAveraging(start=3)], random_state=0
    ).fit(X, X[:, 0] > 0)
    mean = [torch.stack([s[i] for s in snaps.params_[2:]]).mean(0) for i in range(len(snaps.params_[0]))]
    for expected, fitted in zip(mean, clf.module_.parameters(), strict=True):
        torch.testing.assert_close(fitted.detach(), expected, rtol=1e-5, atol=1e-6)
    # The last epoch's weights are not the average: the callback did change the model.
    assert any(
        not torch.allclose(last, fitted.detach()) for last, fitted in zip(snaps.params_[-1], clf.module_.parameters(), strict=True)
    )
    assert dict(clf.callbacks_)["WeightAveraging"].averaged_ is None  # no second copy kept


@pytest.mark.parametrize("start, first", [(0.5, 5), (1.0, 10), (1, 1), (7, 7)])
def test_weight_averaging_start(start, first, rng):
    X = rng.normal(size=(20, 3)).astype(np.float32)
    clf = SkinNetClassifier(MLP, max_epochs=10, callbacks=[WeightAveraging(start)]).fit(X, X[:, 0] > 0)
    cb = dict(clf.callbacks_)["WeightAveraging"]
    assert cb.first_epoch_ == first and cb.n_averaged_ == 10 - first + 1


@pytest.mark.parametrize("start", [0, -1, 0.0, 1.5, "half", True])
def test_weight_averaging_bad_start_is_a_clear_error(start, rng):
    X = rng.normal(size=(20, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="WeightAveraging"):
        SkinNetClassifier(MLP, max_epochs=2, callbacks=[WeightAveraging(start)]).fit(X, X[:, 0] > 0)


def test_weight_averaging_with_cached_scattering_clones_and_predicts(tiny_images):
    X, y = tiny_images
    clf = ScatteringClassifier(
        learnable=False, max_epochs=3, batch_size=4, callbacks=[WeightAveraging(2)], random_state=0
    )
    fitted = clone(clf).fit(X, y)
    assert fitted.predict(X).shape == (len(X),)
    assert dict(fitted.callbacks_)["WeightAveraging"].n_averaged_ == 2
