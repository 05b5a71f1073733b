"""A small wide residual network that classifies scattering coefficients.

The hybrid of Oyallon et al. ("Scaling the Scattering Transform", ICCV 2017) and Gauthier et
al. (CVPR 2022), which they report as the best model when labelled data are scarce: the
scattering replaces the first layers of a wide ResNet, which then only has to learn the
later ones.
"""

import torch.nn as nn

__all__ = ["WideResNetTop"]


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a (projected when needed) identity shortcut."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class WideResNetTop(nn.Module):
    """Wide ResNet on scattering coefficients (channels, H', W') -> class logits.

    BatchNorm of the input channels (no affine part, as in the hybrid of Oyallon et al.),
    a 3x3 convolution to ``16 * width`` channels, two stages of ``depth`` residual blocks
    of ``32 * width`` and ``64 * width`` channels that each halve the resolution, average
    pooling to 2x2 and a linear layer. Independent of the spatial size. For 243 input
    channels (J=2, L=8, RGB), 3 classes and the defaults ``width=2, depth=2``: 728,867
    trainable parameters.

    Parameters
    ----------
    in_channels : int
        Scattering channels (input channels x coefficients per channel).
    n_classes : int
        Number of outputs.
    width : int, default=2
        Widening factor k.
    depth : int, default=2
        Residual blocks per stage.

    Examples
    --------
    >>> import torch
    >>> top = WideResNetTop(243, 3)
    >>> sum(p.numel() for p in top.parameters() if p.requires_grad)
    728867
    >>> top(torch.zeros(2, 243, 12, 12)).shape
    torch.Size([2, 3])
    """

    def __init__(self, in_channels, n_classes, width=2, depth=2):
        super().__init__()
        c0, c1, c2 = 16 * width, 32 * width, 64 * width
        self.stem = nn.Sequential(
            nn.BatchNorm2d(in_channels, affine=False),
            nn.Conv2d(in_channels, c0, 3, padding=1, bias=False),
            nn.BatchNorm2d(c0),
            nn.ReLU(inplace=True),
        )
        blocks, c_in = [], c0
        for c_out in (c1, c2):
            for i in range(depth):
                blocks.append(_BasicBlock(c_in, c_out, stride=2 if i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(4 * c2, n_classes)

    def forward(self, x):
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))
