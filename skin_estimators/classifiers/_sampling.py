"""The training iterator of the networks: shuffling, a lone last sample, class-balanced draws.

``sampling="balanced"`` replaces the shuffled pass over the training set by as many draws
with replacement, each class equally likely: on 16 photos of one class against 46 of
another, every mini-batch then shows the small class as often as the large ones, instead of
only weighting its rare appearances up in the loss (``class_weight="balanced"``). The draws
come from torch's global generator, which ``random_state`` seeds for the whole fit, so a
seeded fit draws the same batches every time.
"""

import numpy as np
import torch

__all__ = ["SAMPLINGS", "balanced_sampler", "training_iterator"]

#: The values of the ``sampling`` parameter besides None.
SAMPLINGS = ("balanced",)


def balanced_sampler(y, n_samples=None):
    """A ``WeightedRandomSampler`` drawing each class of ``y`` equally often, with replacement.

    Parameters
    ----------
    y : array-like of shape (n,)
        The training labels (any type).
    n_samples : int or None
        Draws per epoch; None: ``len(y)``, an epoch as long as a shuffled pass.

    Returns
    -------
    torch.utils.data.WeightedRandomSampler
    """
    y = np.asarray(y)
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    weights = torch.as_tensor(1.0 / counts[codes], dtype=torch.double)
    return torch.utils.data.WeightedRandomSampler(
        weights, len(y) if n_samples is None else n_samples, replacement=True)


def training_iterator(net, dataset):
    """The DataLoader that one training epoch of ``net`` (a ``SkinNetClassifier``) reads.

    Shuffled by default; a lone last sample is dropped (BatchNorm cannot train on one); with
    ``net.sampling == "balanced"``, :func:`balanced_sampler` on the dataset's labels instead
    of the shuffle.
    """
    kwargs = net.get_params_for("iterator_train")
    kwargs.setdefault("batch_size", net.batch_size)
    if kwargs["batch_size"] == -1:
        kwargs["batch_size"] = len(dataset)
    if getattr(net, "sampling", None) == "balanced":
        y = getattr(dataset, "y", None)
        if y is None:
            raise ValueError(f"{type(net).__name__}: sampling='balanced' needs the labels of "
                             "the training set; pass y to fit, or use sampling=None.")
        kwargs["sampler"] = balanced_sampler(y, len(dataset))
        kwargs.pop("shuffle", None)
    else:
        kwargs.setdefault("shuffle", True)
    if len(dataset) > 1 and len(dataset) % kwargs["batch_size"] == 1:
        kwargs.setdefault("drop_last", True)
    return net.iterator_train(dataset, **kwargs)
