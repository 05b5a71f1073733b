"""VanillaCNNClassifier: a small CNN trained from scratch."""

from ..networks import VanillaCNN
from ._base import SkinNetClassifier

__all__ = ["VanillaCNNClassifier"]


class VanillaCNNClassifier(SkinNetClassifier):
    """A small vanilla CNN trained from scratch, as a scikit-learn classifier.

    Three convolution blocks (16/64/128 filters, each 3x3 conv + BatchNorm + ReLU + 2x2
    max-pool) and one linear layer sized from the images seen in ``fit``: 1,044,003 trainable
    parameters for 3 classes at 400x400. The defaults are the best setting on skin3: plain SGD,
    ``lr=0.0001``, ``batch_size=4``, 26 epochs, class-weighted cross-entropy and random
    horizontal flips during training.

    Takes normalised images ``(n_samples, 3, H, W)`` with H, W >= 8; put ``ImageLoader`` and
    ``ChannelNormalizer`` in front of it to work from file paths. Predicting needs images of
    the size it was fitted on.

    Parameters
    ----------
    module : torch.nn.Module class, default=VanillaCNN
        The network; ``module__channels`` changes its widths.
    lr : float, default=0.0001
        SGD learning rate.
    max_epochs : int, default=26
        Number of epochs.
    batch_size : int, default=4
        Mini-batch size.
    augment : str, list, callable or None, default="hflip"
        Training-time augmentation (see :class:`SkinNetClassifier`).
    channels_last : bool, default=True
        Channels-last memory layout: about 1.5x faster convolutions on the CPU.
    **kwargs
        Every other parameter of :class:`SkinNetClassifier` (``class_weight``,
        ``random_state``, ``device``, ``verbose``, ...) and of skorch.

    See Also
    --------
    SkinNetClassifier : the shared base and its parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import VanillaCNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(12, 3, 16, 16).astype("float32")
    >>> y = np.array(["acne", "lichen_planus"] * 6)
    >>> clf = VanillaCNNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> clf.classes_.tolist()
    ['acne', 'lichen_planus']
    """

    _image_input = True
    _min_image_size = 8
    _fixed_input_size = True

    def __init__(
        self,
        module=VanillaCNN,
        *args,
        lr=0.0001,
        max_epochs=26,
        batch_size=4,
        augment="hflip",
        channels_last=True,
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            augment=augment,
            channels_last=channels_last,
            **kwargs,
        )
