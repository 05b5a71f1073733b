"""skorch callbacks for the library's estimators."""

import numbers

import torch
from skorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel

__all__ = ["WeightAveraging"]


class WeightAveraging(Callback):
    """Replace the trained weights by their average over the last epochs (SWA).

    Stochastic weight averaging (Izmailov et al., UAI 2018) with torch's
    :class:`~torch.optim.swa_utils.AveragedModel`: from epoch ``start`` on, the module's
    parameters and buffers (BatchNorm statistics included) are averaged at the end of each
    epoch, and the average becomes the fitted module when training ends. With a constant
    learning rate, plain SGD ends wherever its last noisy step put it; the average of the
    last epochs is a steadier estimate, which matters when a fold has only ~80 images.

    Parameters
    ----------
    start : int or float, default=0.5
        First averaged epoch: an int counts epochs from 1; a float in (0, 1] is a fraction
        of ``max_epochs`` (0.5: the second half of training).

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import SkinNetClassifier
    >>> from skin_estimators.callbacks import WeightAveraging
    >>> from skin_estimators.networks import MLP
    >>> X = np.random.RandomState(0).randn(40, 4).astype("float32")
    >>> clf = SkinNetClassifier(MLP, max_epochs=6, callbacks=[WeightAveraging(start=3)],
    ...                         random_state=0).fit(X, X[:, 0] > 0)
    >>> dict(clf.callbacks_)["WeightAveraging"].n_averaged_  # epochs 3, 4, 5 and 6
    4
    """

    def __init__(self, start=0.5):
        self.start = start

    def _first_epoch(self, net):
        start = self.start
        if isinstance(start, bool) or not isinstance(start, numbers.Real):
            raise ValueError(f"WeightAveraging(start=...) must be an int or float, got {start!r}.")
        if isinstance(start, numbers.Integral):
            if start < 1:
                raise ValueError(f"WeightAveraging(start=...) counts epochs from 1, got {start}.")
            return int(start)
        if not 0 < start <= 1:
            raise ValueError(
                f"WeightAveraging(start=...) as a fraction of max_epochs must be in (0, 1], "
                f"got {start}."
            )
        return max(1, int(round(start * net.max_epochs)))

    def on_train_begin(self, net, **kwargs):
        self.first_epoch_ = self._first_epoch(net)
        self.averaged_ = None
        self.n_averaged_ = 0

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch < self.first_epoch_:
            return
        if self.averaged_ is None:
            self.averaged_ = AveragedModel(net.module_, use_buffers=True)
        self.averaged_.update_parameters(net.module_)
        self.n_averaged_ += 1

    def on_train_end(self, net, **kwargs):
        if self.averaged_ is None:
            return
        with torch.no_grad():
            for target, source in zip(
                list(net.module_.parameters()) + list(net.module_.buffers()),
                list(self.averaged_.module.parameters()) + list(self.averaged_.module.buffers()),
                strict=True,
            ):
                target.copy_(source)
        self.averaged_ = None  # the fitted model carries no second copy of the weights
