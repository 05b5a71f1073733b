"""Scattering followed by a trainable classifier: the parametric scattering network."""

import torch.nn as nn

from ._scattering import Scattering2D
from ._wrn import WideResNetTop

__all__ = ["LinearTop", "ScatteringNet"]


class LinearTop(nn.Module):
    """BatchNorm over the coefficient channels, flatten, one linear layer (the default top).

    Parameters
    ----------
    in_channels : int
        Scattering channels.
    spatial_shape : tuple of int
        (H', W') of the coefficients.
    n_classes : int
        Number of outputs.

    Examples
    --------
    >>> import torch
    >>> LinearTop(243, (4, 4), 3)(torch.zeros(2, 243, 4, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, in_channels, spatial_shape, n_classes):
        super().__init__()
        h, w = spatial_shape
        self.bn = nn.BatchNorm2d(in_channels)
        self.fc = nn.Linear(in_channels * h * w, n_classes)

    def forward(self, x):
        return self.fc(self.bn(x).flatten(1))


class ScatteringNet(nn.Module):
    """A scattering transform (fixed or learnable Morlet wavelets) and a classifier on top.

    The model of Gauthier et al. ("Parametric Scattering Networks", CVPR 2022). With
    ``top="linear"`` (the default): BatchNorm2d over the coefficient
    channels, flatten, linear; for 3 classes at 400x400 RGB with J=2, L=8 and learnable
    wavelets that is 7,290,553 trainable parameters (64 of them the wavelets'). With
    ``top="wrn"``: a small wide ResNet (:class:`WideResNetTop`).

    Parameters
    ----------
    input_shape : tuple of int
        (channels, H, W) of the images.
    n_classes : int
        Number of outputs.
    J, L, max_order, learnable, initialization, random_state
        See :class:`Scattering2D`.
    top : {"linear", "wrn"}, default="linear"
        The classifier on the coefficients.
    width, depth : int, default=2
        Size of the ``"wrn"`` top (see :class:`WideResNetTop`); ignored by ``"linear"``.

    Attributes
    ----------
    scattering : Scattering2D
        The transform; its wavelets' parameters are ``scattering.filters``.
    top : torch.nn.Module
        The classifier on the coefficients.

    Examples
    --------
    >>> net = ScatteringNet(input_shape=(3, 400, 400), n_classes=3)
    >>> sum(p.numel() for p in net.parameters() if p.requires_grad)
    7290553
    """

    def __init__(
        self,
        input_shape,
        n_classes,
        J=2,
        L=8,
        max_order=2,
        learnable=True,
        initialization="tight-frame",
        top="linear",
        random_state=None,
        width=2,
        depth=2,
    ):
        super().__init__()
        c, h, w = input_shape
        self.scattering = Scattering2D(
            J, (h, w), L, max_order, learnable, initialization, random_state
        )
        channels = c * self.scattering.n_coefficients
        if top == "linear":
            self.top = LinearTop(channels, self.scattering.output_shape, n_classes)
        elif top == "wrn":
            self.top = WideResNetTop(channels, n_classes, width=width, depth=depth)
        else:
            raise ValueError(f"top must be 'linear' or 'wrn', got {top!r}.")

    def forward(self, x):
        return self.top(self.scattering(x))
