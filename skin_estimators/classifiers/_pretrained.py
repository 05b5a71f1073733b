"""ResNet50Classifier and BiTClassifier: ImageNet backbones fine-tuned to the classes of ``fit``.

Both fine-tune a timm backbone pretrained on ImageNet with a new head sized from the classes
seen in ``fit``. The shared machinery (where the weights come from, freezing, the
BiT-HyperRule schedule, mixed precision) lives in the private ``_TimmClassifier``.
"""

import numbers

import torch
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator, to_tensor

from .._normalization import PresetStatistic
from ..callbacks import HyperRuleSchedule
from ..networks._backbones import BACKBONES
from ..networks._timm_backbones import create_backbone, freeze_backbone, set_backbone_norm_eval
from ..utils._forwarding import forwarding_init
from ..utils._param_validation import BOOLEAN, WEIGHTS_SOURCE, Hidden, StrOptions
from ..utils._precision import PRECISIONS, autocast_dtype
from ._base import SkinNetClassifier
from ._stored_state import TIMM_FIELDS

__all__ = ["BiTClassifier", "ResNet50Classifier"]

_SCHEDULES = ("constant", "hyperrule")


class _TimmClassifier(SkinNetClassifier):
    """Shared base of the pretrained timm estimators; subclasses set ``_timm_tag``."""

    _image_input = True
    _fixed_input_size = False  # global average pooling: any image size works
    # Global pooling lets any size run (down to 1 px); 16 keeps tiny test images possible.
    # The weights were pretrained at 224 px (BiT also fine-tuned up to 480); the defaults fit 400.
    _min_image_size = 16
    _timm_tag = None
    _model_file_fields = TIMM_FIELDS  # what a safe model file keeps of it

    def __init__(
        self,
        module=create_backbone,
        *args,
        pretrained=True,
        freeze_backbone=False,
        schedule="constant",
        precision="auto",
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.pretrained = pretrained
        self.freeze_backbone = freeze_backbone
        self.schedule = schedule
        self.precision = precision

    _parameter_constraints = {
        **SkinNetClassifier._parameter_constraints,
        "pretrained": [WEIGHTS_SOURCE],
        "freeze_backbone": [BOOLEAN, Hidden(numbers.Integral)],
        "schedule": [StrOptions(_SCHEDULES, text=(
            "'constant' (plain SGD at a constant lr) or 'hyperrule' (BiT-HyperRule: momentum 0.9, "
            "warm-up, step decay, zero head)"))],
        "precision": [StrOptions(PRECISIONS, text=(
            f"one of {', '.join(map(repr, PRECISIONS))} ('auto': bfloat16 autocast on CUDA GPUs "
            "that support it, float16 on older ones, float32 on the CPU)"))],
    }

    # ------------------------------------------------------------------ building
    def initialize_module(self):
        kwargs = self.get_params_for("module")
        kwargs.setdefault("tag", self._timm_tag)
        kwargs.setdefault("n_classes", len(self.classes_))
        # False while a model file is loaded: its weights replace the checkpoint's anyway.
        kwargs.setdefault("pretrained", self.pretrained if self._fetch_pretrained else False)
        kwargs.setdefault("zero_init_head", self.schedule == "hyperrule")
        kwargs.setdefault("owner", type(self).__name__)
        model = self.module(**kwargs)
        if self.freeze_backbone:
            freeze_backbone(model)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.module_ = model
        return self

    def initialize(self):
        super().initialize()
        self.grad_scaler_ = None
        return self

    #: Whether initialize_module builds the backbone with the ``pretrained`` weights; only
    #: _initialize_for_loading switches it off, on the instance and for its duration.
    _fetch_pretrained = True

    def _initialize_for_loading(self):
        # Persistence hook (see SkinNetClassifier): the model file holds every weight, so
        # build the backbone with random ones rather than download or read the checkpoint.
        self._fetch_pretrained = False
        try:
            return self.initialize()
        finally:
            del self._fetch_pretrained

    def get_all_learnable_params(self):
        # Frozen parameters stay out of the optimiser (no momentum or weight decay on them).
        for name, param in super().get_all_learnable_params():
            if param.requires_grad:
                yield name, param

    def get_params_for_optimizer(self, prefix, named_parameters):
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        optimizer = self.optimizer
        if (self.schedule == "hyperrule" and prefix == "optimizer"
                and isinstance(optimizer, type) and issubclass(optimizer, torch.optim.SGD)):
            kwargs.setdefault("momentum", 0.9)  # BiT-HyperRule; optimizer__momentum wins
        return args, kwargs

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        if self.schedule == "hyperrule":
            callbacks.append(("hyperrule", HyperRuleSchedule()))
        return callbacks

    def _set_training(self, training=True):
        super()._set_training(training)
        if training and self.freeze_backbone:
            set_backbone_norm_eval(self.module_)

    # ------------------------------------------------------------------ precision
    def _autocast_dtype(self):
        return autocast_dtype(self.precision, self.device)

    def _grad_scaler(self):
        """The fp16 loss scaler (None in bf16/fp32), made for the device training runs on."""
        if self._autocast_dtype() != torch.float16:
            return None
        kind = torch.device(self.device).type
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None or getattr(scaler, "_device", kind) != kind:
            scaler = self.grad_scaler_ = torch.amp.GradScaler(kind)
        return scaler

    def infer(self, x, **fit_params):
        dtype = self._autocast_dtype()
        if dtype is None:
            return super().infer(x, **fit_params)
        with torch.autocast(device_type=torch.device(self.device).type, dtype=dtype):
            y = super().infer(x, **fit_params)
        # Loss and softmax in float32: low-precision logits lose small probability gaps.
        return y.float()

    def train_step_single(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step_single(batch, **fit_params)
        # As the base class, with the fp16 loss scaled before backward.
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        if self.augmenter_ is not None:
            Xi = self.augmenter_(to_tensor(Xi, device=self.device))
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step(batch, **fit_params)
        # GradScaler does not take optimiser closures, so this is skorch's train_step unrolled.
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        for opt in optimizers:
            scaler.unscale_(opt)  # callbacks such as gradient clipping see true gradients
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for opt in optimizers:
            scaler.step(opt)
        scaler.update()
        return step


_SHARED_PARAMS = """\
    pretrained : bool, str or path-like, default=True
        Where the backbone's weights come from. True: timm's hub weights
        (``{tag}``), taken from the Hugging Face cache (``HF_HOME``/``HF_HUB_CACHE``) and downloaded
        there if missing. When the machine is offline (or ``HF_HUB_OFFLINE=1``) and they
        are not cached, ``fit`` raises an error naming the cache and the ways out; prepare
        such machines with :func:`download_weights`. A path: a local weights file
        (``.safetensors`` or a ``.pth``/``.bin`` state dict of this architecture{npz}).
        The file is read through timm, as the hub's weights are. False: random
        initialisation. The head is always new, sized from ``fit``'s classes.
    freeze_backbone : bool, default=False
        False: fine-tune every layer. True: train only the head; the backbone's
        parameters and BatchNorm statistics stay exactly as loaded.
    schedule : {{"constant", "hyperrule"}}, default="constant"
        "constant": plain SGD at a constant ``lr``. "hyperrule": BiT-HyperRule
        (Kolesnikov et al. 2020): SGD momentum 0.9 (unless ``optimizer__momentum`` is set),
        zero-initialised head, linear warm-up over the first 20% of the steps and division
        of ``lr`` by 10 after 40%, 60% and 80% of them (the official schedule for datasets
        under 20,000 images, stretched to ``max_epochs``). ``lr`` is then the peak rate
        (BiT's rule: 0.003 at batch 512).
    precision : {{"auto", "fp32", "bf16", "fp16"}}, default="auto"
        Autocast dtype for training and prediction. "auto": bfloat16 on CUDA GPUs that
        support it (float16 with loss scaling on older ones), float32 on the CPU - resolved
        where the model runs, so a model trained on a GPU predicts in float32 on a CPU.
        "fp32" (or "32") never autocasts. Mixed precision roughly halves activation memory
        on a GPU. An explicit "bf16"/"fp16" applies wherever the model runs: "bf16" trains
        faster on CPUs with AVX512-BF16 or AMX and needs less memory (see the user guide's
        "The four models"); fp16 is slow on CPUs. Keep "auto" for a model trained
        on a GPU and used on CPU-only machines.
    lr : float, default={lr}
        SGD learning rate (the best setting on skin3).
    max_epochs : int, default={max_epochs}
        Number of epochs (the best setting on skin3).
    batch_size : int, default={batch_size}
        Mini-batch size (the best setting on skin3).
    augment : str, list, callable or None, default="hflip"
        Training-time augmentation (see :class:`SkinNetClassifier`).
    channels_last : bool, default=True
        Channels-last memory layout: less CPU time per training image than the default
        layout (see the user guide's "The four models"); it is also the layout GPU tensor
        cores prefer under mixed precision.
    module : callable, default=create_backbone
        Builds the network; called as ``module(tag=..., n_classes=..., pretrained=...,
        zero_init_head=..., owner=..., **module__kwargs)``, so ``module__drop_rate=0.2``
        reaches :func:`timm.create_model`.
    **kwargs
        Every other parameter of :class:`SkinNetClassifier` (``class_weight``,
        ``random_state``, ``device``, ``verbose``, ...) and of skorch.
"""

_SHARED_NOTES = """\
    Notes
    -----
    Input normalisation: the defaults were chosen with the dataset's own channel
    statistics (``ChannelNormalizer()`` learning mean and std in ``fit``). The weights were
    pretrained on inputs normalised with {stats_name}: the preset ``{preset!r}`` (in [0, 1]
    units; also the class attributes ``pretrained_mean`` and ``pretrained_std``, read from
    timm's configuration of the checkpoint). ``ChannelNormalizer(mean={preset!r})``
    feeds the backbone what it was trained on. Prefer these with
    ``freeze_backbone=True`` (frozen layers cannot adapt to other statistics) and for new
    work; use the dataset's statistics to reproduce the published setting.

    Input: normalised images ``(n_samples, 3, H, W)`` of any size from 16x16 up (the
    backbone ends in global average pooling; the defaults suit 400x400). Put ``ImageLoader``
    and ``ChannelNormalizer`` in front of it to work from file paths.
"""

def _document(cls, preset, **fields):
    fields.update(tag=cls._timm_tag, preset=preset)
    doc = cls.__doc__.replace("    {shared}\n", _SHARED_PARAMS.format(**fields))
    cls.__doc__ = doc.replace("    {notes}\n", _SHARED_NOTES.format(**fields))
    cls.pretrained_mean = PresetStatistic(preset, "mean")
    cls.pretrained_std = PresetStatistic(preset, "std")
    return cls


class ResNet50Classifier(_TimmClassifier):
    """ResNet-50 pretrained on ImageNet-1k (torchvision's weights), fine-tuned end to end.

    timm's ``resnet50.tv_in1k`` (torchvision's original ImageNet
    weights; timm's untagged ``resnet50`` is a different training run) with a new linear
    head: 23,514,179 trainable parameters for 3 classes. The defaults are the best setting
    on skin3: plain SGD, ``lr=0.013``, ``batch_size=32``, 26 epochs, class-weighted
    cross-entropy and random horizontal flips.

    Parameters
    ----------
    {shared}

    See Also
    --------
    BiTClassifier : BiT-M R101x1, pretrained on ImageNet-21k.
    download_weights : fetch the weights for offline use.

    {notes}

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import ResNet50Classifier
    >>> X = np.random.RandomState(0).randn(6, 3, 32, 32).astype("float32")
    >>> y = ["acne", "herpes", "lichen"] * 2
    >>> clf = ResNet50Classifier(pretrained=False, max_epochs=1, batch_size=3,
    ...                          random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> sum(p.numel() for p in clf.module_.parameters() if p.requires_grad)
    23514179

    With the pretrained weights (downloaded on first use, or read from the cache):

    >>> clf = ResNet50Classifier().fit(X_train, y_train)  # doctest: +SKIP
    """

    _timm_tag = BACKBONES["resnet50"].timm_name

    __init__ = forwarding_init(_TimmClassifier, lr=0.013, max_epochs=26, batch_size=32,
                               augment="hflip", channels_last=True)


class BiTClassifier(_TimmClassifier):
    """BiT-M R101x1 pretrained on ImageNet-21k, fine-tuned end to end.

    Big Transfer: timm's ``resnetv2_101x1_bit.goog_in21k`` (the
    ImageNet-21k checkpoint; timm's untagged ``resnetv2_101x1_bit`` is the version
    fine-tuned on ImageNet-1k) with a new 1x1-convolution head: 42,498,627 trainable
    parameters for 3 classes. The defaults are the best setting on skin3: plain SGD,
    ``lr=0.0031``, ``batch_size=4``, 22 epochs, class-weighted cross-entropy and random
    horizontal flips; ``schedule="hyperrule"`` switches to BiT's own fine-tuning recipe.

    Parameters
    ----------
    {shared}

    See Also
    --------
    ResNet50Classifier : torchvision's ResNet-50, pretrained on ImageNet-1k.
    download_weights : fetch the weights for offline use.

    {notes}

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import BiTClassifier
    >>> X = np.random.RandomState(0).randn(6, 3, 32, 32).astype("float32")
    >>> y = ["acne", "herpes", "lichen"] * 2
    >>> clf = BiTClassifier(pretrained=False, max_epochs=1, batch_size=3,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    >>> sum(p.numel() for p in clf.module_.parameters() if p.requires_grad)
    42498627

    With the pretrained weights, BiT's recipe, and the backbone's own input statistics:

    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators import ChannelNormalizer, ImageLoader
    >>> pipe = make_pipeline(ImageLoader(size=400), ChannelNormalizer(mean="bit"),
    ...                      BiTClassifier(schedule="hyperrule"))
    >>> pipe.fit(filenames, labels)  # doctest: +SKIP
    >>> BiTClassifier.pretrained_mean
    (0.5, 0.5, 0.5)
    """

    _timm_tag = BACKBONES["bit"].timm_name

    __init__ = forwarding_init(_TimmClassifier, lr=0.0031, max_epochs=22, batch_size=4,
                               augment="hflip", channels_last=True)


_document(ResNet50Classifier, lr=0.013, max_epochs=26, batch_size=32, npz="",
          stats_name="ImageNet's statistics", preset="imagenet")
_document(BiTClassifier, lr=0.0031, max_epochs=22, batch_size=4,
          npz=",\n        or BiT's original ``.npz``",
          stats_name="0.5 for every channel (inputs in [-1, 1])", preset="bit")
