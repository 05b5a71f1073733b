"""A small multilayer perceptron for tabular (2-D) inputs.

Not one of the library's image architectures: it is what the shared estimator base is checked with
against scikit-learn's common estimator checks, and a minimal example of a custom module.
"""

import math

import torch.nn as nn


class MLP(nn.Module):
    """Fully connected network: ``input_shape`` features -> hidden layers -> ``n_classes`` logits.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample (filled in by the estimator from the data).
    n_classes : int
        Number of outputs (filled in by the estimator from ``y``).
    hidden : tuple of int, default=(32,)
        Sizes of the hidden layers.

    Examples
    --------
    >>> import torch
    >>> MLP(input_shape=(4,), n_classes=3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, input_shape, n_classes, hidden=(32,)):
        super().__init__()
        width = math.prod(input_shape)
        layers = [nn.Flatten()]
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
