"""A small vanilla CNN: three convolution blocks and a linear layer."""

import torch.nn as nn


def _block(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class VanillaCNN(nn.Module):
    """Three convolution blocks (16, 64, 128 filters) and one linear layer.

    Each block is a 3x3 convolution (padding 1), BatchNorm, ReLU and a 2x2 max-pool, so the
    spatial size is divided by 8; the linear layer is sized from ``input_shape``. For 3 classes
    at 400x400 this is 1,044,003 trainable parameters.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of the images; height and width at least 8.
    n_classes : int
        Number of outputs.
    channels : tuple of int, default=(16, 64, 128)
        Filters of the three blocks.

    Examples
    --------
    >>> import torch
    >>> net = VanillaCNN(input_shape=(3, 400, 400), n_classes=3)
    >>> sum(p.numel() for p in net.parameters() if p.requires_grad)
    1044003
    >>> net(torch.zeros(2, 3, 400, 400)).shape
    torch.Size([2, 3])
    """

    def __init__(self, input_shape=(3, 400, 400), n_classes=3, channels=(16, 64, 128)):
        super().__init__()
        c, h, w = input_shape
        if min(h, w) < 8:
            raise ValueError(f"VanillaCNN needs images of at least 8x8 pixels, got {h}x{w}.")
        blocks, c_in = [], c
        for c_out in channels:
            blocks.append(_block(c_in, c_out))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(c_in * (h // 8) * (w // 8), n_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))
