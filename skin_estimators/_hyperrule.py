"""BiT-HyperRule's learning-rate schedule as a skorch callback.

Kolesnikov et al., "Big Transfer (BiT)" (2020): fine-tune with SGD, momentum 0.9, a linear
warm-up, then divide the learning rate by 10 three times; the head starts at zero. The
official implementation (google-research/big_transfer, ``bit_hyperrule.py``) uses for
datasets under 20,000 images a 500-step schedule: warm-up over steps 0-100, division by 10
after steps 200, 300 and 400. Here the number of steps is set by ``max_epochs`` instead, so
the same proportions are applied to however many steps ``fit`` takes.
"""

from skorch.callbacks import Callback

__all__ = ["HyperRuleSchedule", "hyperrule_factor"]

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
    """Set every optimiser parameter group's lr to ``base_lr * hyperrule_factor`` per batch.

    The total number of steps is ``max_epochs`` times the number of training batches,
    computed at the start of each fit; the base lr is the group's lr at that moment (the
    estimator's ``lr``). The lr of each step is recorded in the history as ``"lr"``.
    """

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

