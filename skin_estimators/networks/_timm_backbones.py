"""The pretrained timm backbones, with a fresh classification head.

Builds ``resnet50.tv_in1k`` / ``resnetv2_101x1_bit.goog_in21k`` (or any timm tag) with
weights from the hub cache, from a local file, or at random, always through timm's own
loader (``pretrained_cfg_overlay=dict(file=...)``) so that head replacement and format
handling stay timm's. Pure torch/timm: no skorch or scikit-learn here.
"""

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from ._weights import (
    _network_errors,
    cached_weights_file,
    hub_cache_dir,
    hub_offline,
    unavailable_error,
)

__all__ = [
    "create_backbone",
    "freeze_backbone",
    "head_module",
    "pretrained_stats",
    "set_backbone_norm_eval",
]

# State-dict files that timm's ``load_state_dict`` reads (safetensors or torch.load).
_STATE_DICT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")


def pretrained_stats(tag):
    """``(mean, std)`` per RGB channel, in [0, 1] units, that the tag's weights were trained with.

    Examples
    --------
    >>> from skin_estimators.networks import pretrained_stats
    >>> pretrained_stats("resnetv2_101x1_bit.goog_in21k")
    ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    >>> pretrained_stats("resnet50.tv_in1k")
    ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    """
    import timm.models

    cfg = timm.models.get_pretrained_cfg(tag)
    return tuple(cfg.mean), tuple(cfg.std)


def head_module(model):
    """The classification layer of a timm model (``fc`` for ResNet, ``head.fc`` for BiT)."""
    return model.get_classifier()


def freeze_backbone(model):
    """Make every parameter but the head's untrainable (``requires_grad=False``)."""
    for param in model.parameters():
        param.requires_grad_(False)
    for param in head_module(model).parameters():
        param.requires_grad_(True)
    return model


def set_backbone_norm_eval(model):
    """Put the backbone's BatchNorm layers in eval mode so their running statistics stay put.

    A frozen backbone in train mode would still update BatchNorm's running mean and variance
    on every batch, i.e. change the features the head is being trained on. (BiT uses
    GroupNorm, which keeps no statistics.)
    """
    head = set(head_module(model).modules())
    set_norm_eval(m for m in model.modules() if m not in head)
    return model


def set_norm_eval(modules):
    """Put every BatchNorm layer among ``modules`` in eval mode (running statistics kept)."""
    for module in modules:
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def _zero_head(model):
    head = head_module(model)
    with torch.no_grad():
        head.weight.zero_()
        if head.bias is not None:
            head.bias.zero_()


def _check_state_dict(path, tag):
    """A timm ``pretrained_filter_fn`` that refuses a file that does not fit the backbone.

    timm loads non-strictly whenever the head is replaced, which would silently keep random
    weights for every tensor whose name the file spells differently. Only the head may be
    missing.
    """

    def check(state_dict, model):
        head = {k for k in model.state_dict() if k.startswith(_head_prefix(model))}
        expected = {
            k: tuple(v.shape) for k, v in model.state_dict().items()
            if k not in head and not k.endswith("num_batches_tracked")
        }
        missing = [k for k in expected if k not in state_dict]
        wrong = [
            f"{k} {tuple(state_dict[k].shape)} (model: {shape})"
            for k, shape in expected.items()
            if k in state_dict and tuple(state_dict[k].shape) != shape
        ]
        if missing or wrong:
            problems = []
            if missing:
                problems.append(f"{len(missing)} of the model's {len(expected)} backbone "
                                f"tensors are missing (e.g. {', '.join(missing[:3])})")
            if wrong:
                problems.append(f"{len(wrong)} have another shape (e.g. {'; '.join(wrong[:3])})")
            raise ValueError(
                f"The weights file {path!r} does not hold weights for timm model {tag!r}: "
                f"{' and '.join(problems)}. Give a state dict of this architecture (e.g. one "
                "saved with torch.save(timm.create_model(tag).state_dict(), path) or "
                "safetensors), or BiT's original .npz for BiT."
            )
        return state_dict

    return check


def _head_prefix(model):
    head = head_module(model)
    name = next(n for n, m in model.named_modules() if m is head)
    return name + "."


def _load_file(tag, path, n_classes, owner, timm_kwargs):
    import timm

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{owner} was given pretrained={path!r}, which is not a file. Give the path of a "
            "weights file (.safetensors, .pth/.bin state dict, or BiT's original .npz), "
            "pretrained=True to use the hub's weights, or pretrained=False."
        )
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        if not tag.startswith("resnetv2_") or "_bit" not in tag:
            raise ValueError(
                f"{owner}: {path!r} is a NumPy .npz checkpoint, a format only BiT's original "
                f"weights use; timm model {tag!r} needs a .safetensors or .pth state dict."
            )
        # timm's BiT models read the original Google checkpoints with their own loader.
        overlay = dict(file=path, custom_load=True)
        filter_fn = None
    elif suffix in _STATE_DICT_SUFFIXES:
        overlay = dict(file=path, custom_load=False)
        filter_fn = _check_state_dict(path, tag)
    else:
        raise ValueError(
            f"{owner}: cannot tell the format of the weights file {path!r} from its suffix "
            f"{suffix!r}; use {', '.join(_STATE_DICT_SUFFIXES)} (a state dict) or .npz "
            "(BiT's original checkpoints)."
        )
    try:
        import safetensors

        file_errors = (KeyError, RuntimeError, OSError, pickle.UnpicklingError,
                       safetensors.SafetensorError)
    except (ImportError, AttributeError):  # pragma: no cover
        file_errors = (KeyError, RuntimeError, OSError, pickle.UnpicklingError)
    try:
        try:
            return timm.create_model(
                tag, pretrained=True, num_classes=n_classes, pretrained_cfg_overlay=overlay,
                pretrained_filter_fn=filter_fn, **timm_kwargs,
            )
        except TypeError as exc:
            # Models whose builder passes a filter of its own (timm's vision transformers)
            # refuse a second one: their file is read here, through both filters.
            if filter_fn is None or "pretrained_filter_fn" not in str(exc):
                raise
            return _load_own_filter(tag, path, n_classes, filter_fn, timm_kwargs)
    except file_errors as exc:
        raise ValueError(
            f"{owner} could not load the weights file {path!r} into timm model {tag!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _load_own_filter(tag, path, n_classes, check, timm_kwargs):
    """``tag`` with the weights of the state-dict file ``path``, for a model whose builder
    filters checkpoints itself: timm's filter of its module (format conversion, position
    embeddings resized), then ``check``; only the head may stay as initialised."""
    import sys

    import timm
    from timm.models import load_checkpoint

    model = timm.create_model(tag, pretrained=False, num_classes=n_classes, **timm_kwargs)
    own = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    head = _head_prefix(model)
    target = model.state_dict()

    def fit(state_dict, model):
        state_dict = own(state_dict, model) if own is not None else state_dict
        state_dict = check(state_dict, model)
        return {k: v for k, v in state_dict.items() if not k.startswith(head)
                or (k in target and tuple(v.shape) == tuple(target[k].shape))}

    load_checkpoint(model, path, strict=False, filter_fn=fit)
    return model


def _load_hub(tag, n_classes, owner, timm_kwargs):
    import timm

    cache_dir = hub_cache_dir()
    cached = cached_weights_file(tag, cache_dir)
    if cached is not None:
        # Read the cached file directly, as a local file: no network round trip per fit
        # (GridSearchCV fits hundreds of times) and no dependence on when HF_HUB_OFFLINE was
        # set. The hub's files are timm state dicts, for BiT too.
        return _load_file(tag, cached, n_classes, owner, timm_kwargs)
    if hub_offline():
        raise unavailable_error(tag, cache_dir, "HF_HUB_OFFLINE is set", owner)
    try:
        return timm.create_model(
            tag, pretrained=True, num_classes=n_classes, cache_dir=cache_dir, **timm_kwargs
        )
    except _network_errors() as exc:
        raise unavailable_error(
            tag, cache_dir, f"the hub could not be reached ({type(exc).__name__}: {exc})", owner
        ) from exc


def create_backbone(tag, n_classes, pretrained=True, zero_init_head=False, owner=None,
                    **timm_kwargs):
    """A timm classification network with ``n_classes`` outputs and the requested weights.

    Parameters
    ----------
    tag : str
        Full timm tag, e.g. ``"resnetv2_101x1_bit.goog_in21k"``.
    n_classes : int
        Outputs of the new head, which is always freshly initialised (the pretrained head
        of 1000 or 21,843 classes is dropped).
    pretrained : bool, str or path-like, default=True
        True: the hub's weights (from the hub cache, downloaded when missing and online).
        A path: a local ``.safetensors``/``.pth``/``.bin`` state dict, or for BiT the
        original ``.npz``. False: random initialisation.
    zero_init_head : bool, default=False
        Set the head's weights and bias to zero (BiT-HyperRule).
    owner : str, optional
        Name used in error messages (the estimator).
    **timm_kwargs
        Passed to :func:`timm.create_model` (e.g. ``drop_rate``).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    WeightsUnavailableError
        ``pretrained=True`` on an offline machine whose cache lacks the weights.

    Examples
    --------
    >>> import torch
    >>> net = create_backbone("resnet50.tv_in1k", n_classes=3, pretrained=False)
    >>> net(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 3])
    """
    import timm

    owner = owner or f"timm model {tag!r}"
    if pretrained is True:
        model = _load_hub(tag, n_classes, owner, timm_kwargs)
    elif pretrained is False or pretrained is None:
        model = timm.create_model(tag, pretrained=False, num_classes=n_classes, **timm_kwargs)
    else:
        model = _load_file(tag, pretrained, n_classes, owner, timm_kwargs)
    if zero_init_head:
        _zero_head(model)
    return model
