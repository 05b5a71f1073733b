"""BackboneClassifier: any pretrained backbone of the backbone table, fine-tuned.

The machinery of ``ResNet50Classifier`` (``_TimmClassifier``: weights from the hub cache, a
package or a file, freezing, the BiT-HyperRule schedule, mixed precision, safe model files)
for a backbone named by its entry in ``skin_estimators.networks.BACKBONES``, so that a new
backbone needs no estimator class of its own.
"""

from .._normalization import preset_stats
from ..networks._backbones import BACKBONES, create_pretrained
from ..utils._forwarding import forwarding_init
from ..utils._param_validation import StrOptions
from ._pretrained import _TimmClassifier

__all__ = ["BackboneClassifier"]

_DEFAULT = "dinov2_vits14"


class _BackboneStatistic:
    """``pretrained_mean`` / ``pretrained_std``: the preset of the instance's backbone (of the
    default backbone when read from the class)."""

    def __init__(self, which):
        self.which = which

    def __get__(self, obj, owner=None):
        name = getattr(obj, "backbone", _DEFAULT) if obj is not None else _DEFAULT
        backbone = BACKBONES.get(name, BACKBONES[_DEFAULT])
        mean, std = preset_stats(backbone.normalization)
        return mean if self.which == "mean" else std


class BackboneClassifier(_TimmClassifier):
    """A pretrained backbone of the backbone table, with a new head, fine-tuned.

    The backbone is named by its entry in :data:`skin_estimators.networks.BACKBONES`: its
    timm model, where its weights come from and the normalisation its inputs need. A new
    linear head is sized from the classes seen in ``fit``. Training is that of
    :class:`ResNet50Classifier` (plain SGD, class-weighted cross-entropy, random horizontal
    flips, optional BiT-HyperRule schedule). The default backbone, DINOv2 ViT-S/14
    (``vit_small_patch14_dinov2.lvd142m``, self-supervised on 142 million images), is
    offered as a starting point: its accuracy on skin photos has not been measured with this
    library, and its defaults are not tuned.

    Parameters
    ----------
    module : callable, default=create_pretrained
        Builds the network; called as ``module(tag=..., n_classes=..., pretrained=...,
        zero_init_head=..., owner=..., **module__kwargs)``.
    backbone : str, default="dinov2_vits14"
        A short name of :data:`~skin_estimators.networks.BACKBONES`.
    pretrained : bool, str or path-like, default=True
        True: the weights of the backbone's source: the Hugging Face hub (taken from the
        hub cache, ``HF_HOME``/``HF_HUB_CACHE``, and downloaded there if missing; offline
        and not cached, ``fit`` raises :class:`~skin_estimators.networks.WeightsUnavailableError`
        naming the ways out; see :func:`download_weights`) or the installed package. A path:
        a local weights file of this architecture (``.safetensors`` or a ``.pth``/``.bin``
        state dict in timm's layout). False: random initialisation.
    freeze_backbone : bool, default=False
        False: fine-tune every layer. True: train only the head.
    schedule : {"constant", "hyperrule"}, default="constant"
        See :class:`ResNet50Classifier`.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast dtype; "auto" is mixed precision on CUDA and float32 on the CPU.
    lr : float, default=0.01
        SGD learning rate (not tuned).
    max_epochs : int, default=20
        Number of epochs.
    batch_size : int, default=16
        Mini-batch size.
    augment : str, list, callable or None, default="hflip"
        Training-time augmentation (see :class:`SkinNetClassifier`).
    channels_last : bool, default=True
        Channels-last memory layout.
    **kwargs
        Every other parameter of :class:`SkinNetClassifier` and of skorch.

    See Also
    --------
    PretrainedFeatures : the same backbones, frozen, as a feature extractor.
    ResNet50Classifier, BiTClassifier, EfficientNetLiteClassifier : the backbones with an
        estimator of their own (and defaults of their own).

    Notes
    -----
    Feed the backbone the statistics it was pretrained with:
    ``ChannelNormalizer(mean=BACKBONES[backbone].normalization)`` (``"imagenet"`` for
    DINOv2), as ``pretrained_mean`` and ``pretrained_std`` say. DINOv2 takes images of any
    size from 16x16 up (they are padded to a multiple of its 14-pixel patches, and its
    position embedding is interpolated); it was pretrained at 518x518, and its cost grows
    with the square of the number of patches.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import BackboneClassifier
    >>> X = np.random.RandomState(0).randn(6, 3, 28, 28).astype("float32")
    >>> y = ["acne", "herpes", "lichen"] * 2
    >>> clf = BackboneClassifier(backbone="dinov2_vits14", pretrained=False, max_epochs=1,
    ...                          batch_size=3, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> BackboneClassifier.pretrained_mean
    (0.485, 0.456, 0.406)
    """

    _parameter_constraints = {
        **_TimmClassifier._parameter_constraints,
        "backbone": [StrOptions(sorted(BACKBONES))],
    }

    pretrained_mean = _BackboneStatistic("mean")
    pretrained_std = _BackboneStatistic("std")

    __init__ = forwarding_init(_TimmClassifier, own={"backbone": _DEFAULT},
                               module=create_pretrained, lr=0.01, max_epochs=20,
                               batch_size=16, augment="hflip", channels_last=True)

    @property
    def _timm_tag(self):
        backbone = BACKBONES.get(self.backbone)
        return None if backbone is None else backbone.timm_name
