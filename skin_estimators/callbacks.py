"""skorch callbacks for the library's estimators: weight averaging and BiT-HyperRule."""

import numbers

import torch
from skorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel

from .utils._param_validation import Interval, Satisfies, is_int, is_real, validate_constraints

__all__ = ["HyperRuleSchedule", "WeightAveraging"]


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

    _parameter_constraints = {
        "start": [Interval(numbers.Integral, 1, None, closed="left",
                           text="an int >= 1 (the first epoch, counted from 1)"),
                  Satisfies(lambda v: is_real(v) and not is_int(v) and 0 < v <= 1,
                            "a float in (0, 1] (a fraction of max_epochs)")],
    }

    def _first_epoch(self, net):
        validate_constraints(self)
        if is_int(self.start):
            return int(self.start)
        return max(1, int(round(self.start * net.max_epochs)))

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


# BiT-HyperRule (Kolesnikov et al., "Big Transfer (BiT)", 2020; google-research/big_transfer,
# ``bit_hyperrule.py``): for datasets under 20,000 images, a 500-step schedule with warm-up over
# steps 0-100 and division by 10 after steps 200, 300 and 400. Here the number of steps is set by
# ``max_epochs`` instead, so the same proportions apply to however many steps ``fit`` takes.

#: Fraction of the steps spent warming up, and the fractions after which lr is divided by 10
#: (bit_hyperrule.py, < 20k images: supports [100, 200, 300, 400, 500]).
WARMUP = 0.2
DECAYS = (0.4, 0.6, 0.8)


def hyperrule_factor(step, total_steps):
    """Multiplier of the base learning rate at optimisation step ``step`` (0-based).

    >>> [round(hyperrule_factor(s, 10), 4) for s in range(10)]
    [0.5, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    """
    total_steps = max(int(total_steps), 1)
    warmup = WARMUP * total_steps
    if step < warmup:
        # (step + 1): the first update already moves, as with torch's LinearLR.
        return min((step + 1) / warmup, 1.0)
    return 0.1 ** sum(step >= d * total_steps for d in DECAYS)


class HyperRuleSchedule(Callback):
    """BiT-HyperRule's learning-rate schedule: linear warm-up, then three divisions by 10.

    Sets every optimiser parameter group's lr to ``base_lr * hyperrule_factor(step, total)``
    before each training batch (Kolesnikov et al., "Big Transfer (BiT)", 2020: warm-up over
    the first 20 % of the steps, division by 10 after 40 %, 60 % and 80 %). The total number
    of steps is ``max_epochs`` times the number of training batches, computed at the start of
    each fit; the base lr is the group's lr at that moment (the estimator's ``lr``). The lr of
    each step is recorded in the history as ``"lr"``. :class:`~skin_estimators.BiTClassifier`
    uses it by default.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import SkinNetClassifier
    >>> from skin_estimators.callbacks import HyperRuleSchedule
    >>> from skin_estimators.networks import MLP
    >>> X = np.random.RandomState(0).randn(40, 4).astype("float32")
    >>> clf = SkinNetClassifier(MLP, max_epochs=5, batch_size=40, lr=0.1,
    ...                         callbacks=[HyperRuleSchedule()], random_state=0)
    >>> [round(lr, 4) for lr in clf.fit(X, X[:, 0] > 0).history[:, "batches", 0, "lr"]]  # 1 step each
    [0.1, 0.1, 0.01, 0.001, 0.0001]
    """

    _parameter_constraints = {}  # no parameters

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        dataset_train, _ = net.get_split_datasets(X, y)
        steps_per_epoch = len(net.get_iterator(dataset_train, training=True))
        self.total_steps_ = max(1, steps_per_epoch) * net.max_epochs
        self.step_ = 0
        self.base_lrs_ = [
            [group.setdefault("initial_lr", group["lr"]) for group in opt.param_groups]
            for opt in self._optimizers(net)
        ]

    @staticmethod
    def _optimizers(net):
        return [getattr(net, name + "_") for name in net._optimizers]

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        factor = hyperrule_factor(min(self.step_, self.total_steps_ - 1), self.total_steps_)
        for opt, base_lrs in zip(self._optimizers(net), self.base_lrs_, strict=True):
            for group, base in zip(opt.param_groups, base_lrs, strict=True):
                group["lr"] = base * factor
        net.history.record_batch("lr", self.base_lrs_[0][0] * factor)
        self.step_ += 1

