"""ScatteringClassifier: the parametric scattering network as a scikit-learn classifier."""

import numbers

import numpy as np
import torch
from skorch.utils import to_tensor

from ..networks import ScatteringNet
from ..utils._coefficient_cache import scattering_features
from ..utils._param_validation import (
    BOOLEAN,
    Options,
    StrOptions,
    positive_int,
    positive_number,
)
from ._base import SkinNetClassifier

__all__ = ["ScatteringClassifier"]

# Names of the wavelet parameters inside ScatteringNet: their own optimiser group.
_WAVELET_PREFIX = "scattering.filters."


class _CoefficientPairs(torch.utils.data.Dataset):
    """Cached coefficients of each image and of its mirror; yields one of the two.

    With ``random_mirror`` each access picks the mirror with probability 1/2 (from torch's
    generator, so a seeded ``fit`` is reproducible): the horizontal flip augmentation,
    applied to coefficients computed once. Otherwise the image's own coefficients.
    """

    def __init__(self, pairs, y, random_mirror):
        self.pairs, self.y, self.random_mirror = pairs, y, random_mirror

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, i):
        flip = bool(self.random_mirror and torch.rand(()) < 0.5)
        return torch.from_numpy(self.pairs[i, int(flip)]), self.y[i]

    def without_random_mirror(self):
        return _CoefficientPairs(self.pairs, self.y, False)


def _is_hflip_only(augment):
    if augment is None or augment == "hflip":
        return True
    return isinstance(augment, (list, tuple)) and all(a == "hflip" for a in augment)


class ScatteringClassifier(SkinNetClassifier):
    """Parametric scattering network (Gauthier et al., CVPR 2022) as a scikit-learn classifier.

    A scattering transform with Morlet wavelets whose orientation, scale, frequency and
    slant are learned (or fixed), followed by a classifier. The defaults are the best
    setting on skin3 with a linear top: J=2, L=8, order 2, learnable wavelets
    initialised as kymatio's tight frame, BatchNorm + linear on the 243 x 100 x 100
    coefficients of a 400x400 RGB image (7,290,553 trainable parameters for 3 classes),
    plain SGD with ``lr=0.0091`` (``lr_scattering=0.1`` for the wavelets, no weight decay),
    batch 4, 22 epochs, class-weighted cross-entropy and random horizontal flips.

    With ``learnable=False`` the wavelets are kymatio's fixed ones and ``fit`` computes the
    scattering of each training image and of its mirror once (through a process-wide cache
    keyed on the image content, shared by the folds of a cross-validation; see
    :func:`clear_feature_cache`); epochs then train only the classifier, about a hundred
    times faster. The cache never goes into pickled models.

    Takes normalised images ``(n_samples, 3, H, W)`` with H, W >= 2**J (put
    ``ImageLoader`` and ``ChannelNormalizer`` in front of it); predicting needs the size it
    was fitted on.

    Parameters
    ----------
    module : torch.nn.Module class, default=ScatteringNet
        The network; ``module__width`` and ``module__depth`` size the ``"wrn"`` top.
    J : int, default=2
        Scales of the scattering; coefficients are subsampled by ``2**J``.
    L : int, default=8
        Orientations per scale.
    max_order : {1, 2}, default=2
        Highest scattering order.
    learnable : bool, default=True
        Learn the wavelets' parameters (else they stay fixed and coefficients are cached).
    initialization : {"tight-frame", "random"}, default="tight-frame"
        kymatio's wavelets, or random ones (drawn from ``random_state``).
    top : {"linear", "wrn"}, default="linear"
        BatchNorm + linear, or a small wide ResNet on the coefficients (the
        hybrid that Gauthier et al. report as best with little data; 728,867 parameters
        for 3 classes with the default width and depth, plus the 64 of the wavelets).
    lr : float, default=0.0091
        Learning rate of the classifier on top.
    lr_scattering : float, default=0.1
        Learning rate of the wavelets' parameters (their own optimiser group, with no
        weight decay), as in Gauthier et al.'s code.
    cache_features : bool, default=True
        With ``learnable=False``, compute each image's coefficients once (needs ``augment``
        to be None or "hflip", the augmentations that can be cached).
    max_epochs : int, default=22
        Number of epochs.
    batch_size : int, default=4
        Mini-batch size.
    augment : str, list, callable or None, default="hflip"
        Training-time augmentation (see :class:`SkinNetClassifier`).
    **kwargs
        Every other parameter of :class:`SkinNetClassifier` (``class_weight``,
        ``random_state``, ``device``, ``verbose``, ...) and of skorch.

    See Also
    --------
    ScatteringTransformer : the fixed scattering as a scikit-learn transformer.
    skin_estimators.networks.ScatteringNet : the network.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import ScatteringClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(8, 3, 16, 16).astype("float32")
    >>> y = np.array(["acne", "lichen_planus"] * 4)
    >>> clf = ScatteringClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> frozen = ScatteringClassifier(learnable=False, max_epochs=2, random_state=0).fit(X, y)
    >>> frozen.predict(X).shape
    (8,)
    """

    _image_input = True
    _fixed_input_size = True

    def __init__(
        self,
        module=ScatteringNet,
        *args,
        J=2,
        L=8,
        max_order=2,
        learnable=True,
        initialization="tight-frame",
        top="linear",
        lr=0.0091,
        lr_scattering=0.1,
        cache_features=True,
        max_epochs=22,
        batch_size=4,
        augment="hflip",
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            augment=augment,
            **kwargs,
        )
        self.J = J
        self.L = L
        self.max_order = max_order
        self.learnable = learnable
        self.initialization = initialization
        self.top = top
        self.lr_scattering = lr_scattering
        self.cache_features = cache_features

    @property
    def _min_image_size(self):
        return 2**self.J

    _parameter_constraints = {
        **SkinNetClassifier._parameter_constraints,
        "J": [positive_int()],
        "L": [positive_int()],
        "max_order": [Options(numbers.Integral, [1, 2], text="1 or 2")],
        "learnable": [BOOLEAN],
        "initialization": [StrOptions(["tight-frame", "random"], text="'tight-frame' or 'random'")],
        "top": [StrOptions(["linear", "wrn"], text="'linear' or 'wrn'")],
        "lr_scattering": [positive_number()],
        "cache_features": [BOOLEAN],
    }

    def _module_kwargs(self):
        kwargs = super()._module_kwargs()
        kwargs.update(
            J=self.J,
            L=self.L,
            max_order=self.max_order,
            learnable=self.learnable,
            initialization=self.initialization,
            top=self.top,
            random_state=self.random_state,
        )
        return kwargs

    def get_params_for_optimizer(self, prefix, named_parameters):
        """The wavelets' parameters form their own group: ``lr_scattering``, no weight decay."""
        named = list(named_parameters)
        if prefix != "optimizer":
            return super().get_params_for_optimizer(prefix, named)
        wavelets = [p for name, p in named if name.startswith(_WAVELET_PREFIX)]
        rest = [(name, p) for name, p in named if not name.startswith(_WAVELET_PREFIX)]
        (groups,), kwargs = super().get_params_for_optimizer(prefix, rest)
        if wavelets:
            groups = [{"params": wavelets, "lr": self.lr_scattering, "weight_decay": 0.0}] + groups
        return (groups,), kwargs

    # ------------------------------------------------------------------ frozen-filter cache
    def _uses_feature_cache(self):
        return not self.learnable and self.cache_features and _is_hflip_only(self.augment)

    def initialize(self):
        super().initialize()
        if self._uses_feature_cache():
            self.augmenter_ = None  # the flips are the cached mirrors (_CoefficientPairs)
        return self

    def get_dataset(self, X, y=None):
        if not (self._uses_feature_cache() and isinstance(X, np.ndarray) and X.ndim == 4):
            return super().get_dataset(X, y)
        scattering = self.module_.scattering
        if y is None:
            return super().get_dataset(scattering_features(scattering, X, device=self.device))
        pairs = scattering_features(scattering, X, mirrored=True, device=self.device)
        y = to_tensor(np.asarray(y), device="cpu")
        return _CoefficientPairs(pairs, y, random_mirror=self.augment not in (None, [], ()))

    def get_iterator(self, dataset, training=False):
        if not training:  # validation batches: the images themselves, never their mirrors
            if isinstance(dataset, _CoefficientPairs):
                dataset = dataset.without_random_mirror()
            elif isinstance(dataset, torch.utils.data.Subset) and isinstance(
                dataset.dataset, _CoefficientPairs
            ):
                dataset = torch.utils.data.Subset(dataset.dataset.without_random_mirror(), dataset.indices)
        return super().get_iterator(dataset, training=training)

    def infer(self, x, **fit_params):
        if not self._uses_feature_cache():
            return super().infer(x, **fit_params)
        # Cached coefficients (float16) in, logits out: only the classifier runs.
        return self.module_.top(to_tensor(x, device=self.device).float(), **fit_params)
