"""The skorch classifier that every architecture of the library shares.

Everything that is the same for the vanilla CNN, the pretrained backbones and the scattering
network lives here: class-weighted cross-entropy computed from each ``fit``'s ``y``, any label
type, ``device="auto"``, seeding, training-time augmentation, input validation in the
scikit-learn manner (the ``InputChecks`` mixin of ``_checks.py``), and the plumbing that sizes
a network from the data it is fitted on.
"""

import contextlib
import inspect
import numbers

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, ProgressBar
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ..utils._device import DeviceParameter, resolve_device
from ..utils._model_state import stored_in_model_files
from ..utils._validation import mirror_images
from ._augment import make_augmenter
from ._checks import InputChecks
from ._constraints import NET_CONSTRAINTS
from ._stored_state import StoredNetState

__all__ = ["SkinNetClassifier"]


def _encoded_accuracy(net, X, y):
    """Accuracy on a validation split, in label codes (``y`` there is already encoded)."""
    proba = NeuralNetClassifier.predict_proba(net, X)  # skorch's: takes its own Dataset
    return float(np.mean(np.argmax(proba, axis=1) == np.asarray(y)))


def _valid_accuracy():
    return EpochScoring(_encoded_accuracy, name="valid_acc", lower_is_better=False)


@stored_in_model_files
class SkinNetClassifier(StoredNetState, InputChecks, NeuralNetClassifier):
    """A skorch ``NeuralNetClassifier`` that behaves like a scikit-learn classifier.

    This is the shared base of the library's estimators; it can also wrap any
    ``torch.nn.Module`` that maps a batch of inputs to class logits. If the module's
    constructor takes ``n_classes`` and/or ``input_shape``, they are filled in from the data
    seen in ``fit`` (so one estimator works for any number of classes and image size).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network; it must return logits of shape ``(n_samples, n_classes)``.
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        Called with ``weight=`` the class weights (see ``class_weight``).
    optimizer : torch optimizer class, default=torch.optim.SGD
        Plain SGD (what the architectures' defaults were chosen with).
    lr : float, default=0.01
        Learning rate.
    max_epochs : int, default=10
        Number of passes over the training data.
    batch_size : int, default=32
        Mini-batch size for training and prediction.
    train_split : callable or None, default=None
        skorch's internal validation split. ``None``: train on everything that ``fit`` gets,
        since cross-validation does the splitting.
    class_weight : "balanced", dict or None, default="balanced"
        Weights of the cross-entropy per class. ``"balanced"`` computes
        ``n_samples / (n_classes * count(class))`` from the ``y`` of each ``fit`` (stored in
        ``class_weight_``; the parameter itself never changes). A dict maps labels to weights.
        Use ``None`` when the classes are balanced by resampling (imbalanced-learn) instead:
        weighting and resampling together would correct twice.
    augment : str, list of str, callable or None, default=None
        Training-time augmentation of each mini-batch, never applied at predict time:
        ``"hflip"``, ``"vflip"``, ``"rot90"``, ``"affine"``, ``"resized_crop"``, ``"color"``,
        a list of them, a dict of them to their parameters (``{"resized_crop": {"scale":
        [0.5, 1.0]}, "hflip": None}``, applied in its order, each parameter checked), or a
        callable mapping a batch tensor ``(n, C, H, W)`` to one of the same shape.
    tta : None or "hflip", default=None
        Test-time augmentation: ``"hflip"`` averages the class probabilities of each image
        and of its horizontal mirror in ``predict_proba`` and ``predict`` (image input
        only). ``None`` predicts on the images as given.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and augmentation. Two fits with the same integer
        give identical models on the CPU; on CUDA, cuDNN's deterministic mode is switched on
        during fit. The global torch random state is left as it was.
    device : "auto", "cpu", "cuda" or torch.device, default="auto"
        ``"auto"``: CUDA when PyTorch sees a GPU, else the CPU. Asking for ``"cuda"`` on a
        machine without one is an error at ``fit``.
    channels_last : bool, default=False
        Run 4-D convolutional inputs in channels-last memory layout (faster for convolutions
        on recent CPUs and GPUs).
    verbose : int, default=0
        0: silent. 1 or more: a per-epoch table and a progress bar over the batches.
    **kwargs
        Any other skorch parameter (``callbacks``, ``iterator_train__num_workers``,
        ``module__<name>``, ``optimizer__momentum``, ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, in sorted order; ``predict`` returns these.
    class_weight_ : ndarray of shape (n_classes,) or None
        The weights the loss used in the last ``fit``.
    n_features_in_ : int
        Number of features (2-D input) or channels (image input) seen in ``fit``.
    input_shape_ : tuple
        Shape of one sample seen in ``fit``.
    module_ : torch.nn.Module
        The trained network.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import SkinNetClassifier
    >>> from skin_estimators.networks import MLP
    >>> X = np.random.RandomState(0).randn(60, 4).astype("float32")
    >>> y = np.where(X[:, 0] > 0, "yes", "no")
    >>> clf = SkinNetClassifier(MLP, lr=0.1, max_epochs=20, random_state=0).fit(X, y)
    >>> clf.classes_
    array(['no', 'yes'], dtype='<U3')
    >>> clf.predict(X[:3]).tolist() == y[:3].tolist()
    True
    """

    device = DeviceParameter()

    #: What each parameter takes, checked at the start of ``fit`` (see ``_checks.py``).
    _parameter_constraints = dict(NET_CONSTRAINTS)

    #: Image estimators set this: inputs are ``(n, C, H, W)`` float arrays.
    _image_input = False
    #: Number of colour channels the image architectures take.
    _n_channels = 3
    #: Smallest image side the architecture can take.
    _min_image_size = 1
    #: True when the network's size depends on the image size (a linear layer sized from it).
    _fixed_input_size = False

    def __init__(
        self,
        module,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=0.01,
        max_epochs=10,
        batch_size=32,
        train_split=None,
        class_weight="balanced",
        augment=None,
        tta=None,
        random_state=None,
        device="auto",
        channels_last=False,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.class_weight = class_weight
        self.augment = augment
        self.tta = tta
        self.random_state = random_state
        self.channels_last = channels_last

    # ------------------------------------------------------------------ parameters
    def _get_param_names(self):
        # skorch lists every public attribute; its private bookkeeping (``_params_to_validate``,
        # recomputed by ``__init__`` from the keyword arguments) is not a parameter.
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    def get_params(self, deep=True, **kwargs):
        params = super().get_params(deep=deep, **kwargs)
        if "device" in params:
            params["device"] = self.__dict__.get("device")
        return params

    def __setstate__(self, state):
        raw = state.get("device", "cpu")
        state["device"] = resolve_device(raw)
        super().__setstate__(state)
        if isinstance(raw, str) and raw == "auto":
            self.__dict__["device"] = raw

    def __sklearn_is_fitted__(self):
        return bool(self.initialized_) and hasattr(self, "label_encoder_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    @property
    def _default_callbacks(self):
        callbacks = [
            # skorch's own valid_acc hands a skorch Dataset to our validating ``predict`` and
            # compares original labels with the encoded ones; score on the codes instead.
            (name, _valid_accuracy() if name == "valid_acc" else cb)
            for name, cb in super()._default_callbacks
        ]
        # get_params reads this property too, so it must not choke on odd verbose values.
        if isinstance(self.verbose, numbers.Real) and self.verbose > 0:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    # ------------------------------------------------------------------ seeding
    @contextlib.contextmanager
    def _seeded(self):
        """Run the body with torch seeded from ``random_state``, leaving global state as it was."""
        if self.random_state is None:
            yield
            return
        seed = self.random_state
        if not isinstance(seed, numbers.Integral):
            seed = check_random_state(seed).randint(np.iinfo(np.int32).max)
        on_cuda = torch.device(self.device).type == "cuda"
        devices = list(range(torch.cuda.device_count())) if on_cuda else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(seed))
            if on_cuda:
                old = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
                try:
                    yield
                finally:
                    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old
            else:
                yield

    # ------------------------------------------------------------------ skorch hooks
    def _module_kwargs(self):
        """Arguments filled in from the data; subclasses add their own."""
        return {"n_classes": len(self.classes_), "input_shape": tuple(self.input_shape_)}

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        if inspect.isclass(self.module):
            accepted = inspect.signature(self.module).parameters
            takes_any = any(p.kind == p.VAR_KEYWORD for p in accepted.values())
            for key, value in self._module_kwargs().items():
                if key not in kwargs and (key in accepted or takes_any):
                    kwargs[key] = value
        self.module_ = self.initialized_instance(self.module, kwargs)
        if self.channels_last:
            self.module_ = self.module_.to(memory_format=torch.channels_last)
        return self

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        weight = getattr(self, "class_weight_", None)
        if weight is not None and "weight" not in kwargs:
            kwargs["weight"] = torch.as_tensor(weight, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def initialize(self):
        self.augmenter_ = make_augmenter(self.augment)
        return super().initialize()

    def get_iterator(self, dataset, training=False):
        if not training:
            return super().get_iterator(dataset, training=False)
        kwargs = self.get_params_for("iterator_train")
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        # Shuffle by default, and drop a lone last sample: BatchNorm cannot train on one.
        kwargs.setdefault("shuffle", True)
        if len(dataset) > 1 and len(dataset) % kwargs["batch_size"] == 1:
            kwargs.setdefault("drop_last", True)
        return self.iterator_train(dataset, **kwargs)

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        if self.channels_last and isinstance(x, torch.Tensor) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return super().infer(x, **fit_params)

    def evaluation_step(self, batch, training=False):
        if training:
            return super().evaluation_step(batch, training=True)
        # Inference mode (no autograd bookkeeping at all) is a little faster than no_grad.
        self.check_is_fitted()
        with torch.inference_mode():
            self._set_training(False)
            return self.infer(unpack_data(batch)[0])

    def train_step_single(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        if self.augmenter_ is not None:
            Xi = self.augmenter_(to_tensor(Xi, device=self.device))
        return super().train_step_single((Xi, yi), **fit_params)

    # ------------------------------------------------------------------ public API
    def fit(self, X, y, **fit_params):
        """Validate the data, then initialise and train the network.

        Parameters
        ----------
        X : array-like
            Training inputs: images ``(n_samples, C, H, W)`` for the image estimators (as
            produced by ``ImageLoader`` + ``ChannelNormalizer``), a 2-D array otherwise.
        y : array-like of shape (n_samples,)
            Labels of any type (strings included).
        **fit_params
            Passed on to skorch's ``fit`` (and from there to the module's ``forward``).

        Returns
        -------
        self
        """
        self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X, y = self._validate_X(X, y, reset=True)
        y_codes = self._encode_labels(y)
        self.class_weight_ = self._compute_class_weight(y)
        # skorch's fit trains through partial_fit with the encoded labels; the flag tells
        # partial_fit so without relying on how a skorch release routes the call.
        self._fitting_encoded = True
        try:
            with self._seeded():
                super().fit(X, y_codes, **fit_params)
        finally:
            del self._fitting_encoded
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising (warm start).

        On a fresh estimator this is the same as :meth:`fit`.
        """
        if getattr(self, "_fitting_encoded", False):  # called by skorch's fit: y is encoded
            return super().partial_fit(X, y, classes=classes, **fit_params)
        if not self.__sklearn_is_fitted__():
            return self.fit(X, y, **fit_params)
        self._check_params_for_partial_fit()
        X, y = self._validate_X(X, y, reset=False)
        y = np.asarray(y)
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels {unseen.tolist()} that were not seen in fit "
                f"(classes_ = {self.classes_.tolist()})."
            )
        with self._seeded():
            super().partial_fit(X, self.label_encoder_.transform(y), **fit_params)
        return self

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against ``y`` (see ``sklearn.base.ClassifierMixin.score``)."""
        y = np.asarray(y)
        fitted_kind = "str" if self.classes_.dtype.kind in "USO" else "number"
        given_kind = "str" if y.dtype.kind in "USO" else "number"
        if fitted_kind != given_kind:
            raise ValueError(
                f"y holds labels of type {given_kind} ({y.dtype}), but {type(self).__name__} was "
                f"fitted on labels of type {fitted_kind}: {self.classes_.tolist()}. Pass y in the "
                "same form as in fit."
            )
        return super().score(X, y, sample_weight=sample_weight)

    @property
    def classes_(self):
        try:
            return self.label_encoder_.classes_
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_' before it is fitted."
            ) from None

    def _check_fitted(self):
        try:
            check_is_fitted(self)
        except NotFittedError:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            ) from None

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like
            Inputs shaped like those given to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), dtype float32
            float32, the precision the network computes in (as skorch returns it). The
            last bits of a row may depend on the other rows of its batch: vectorised float32
            kernels (AVX-512, AMX, GPUs) round a sum differently with its position in the
            batch, so the same photo predicted alone or among others agrees to float32
            precision (about 1e-6 relative), not bit for bit. Widening to float64 would
            claim digits the computation does not have.
        """
        self._check_fitted()
        X, _ = self._validate_X(X, reset=False)
        # torch's DataLoader draws a seed from the global generator even without shuffling;
        # predicting should not change the random stream of the caller.
        with torch.random.fork_rng(devices=[]):
            proba = np.asarray(super().predict_proba(X), dtype=np.float32)
            if self.tta == "hflip":
                mirrored = mirror_images(X)
                proba = (proba + np.asarray(super().predict_proba(mirrored), dtype=np.float32)) / 2
        return proba

    def predict(self, X):
        """Predicted labels, of the same type as the ``y`` given to ``fit``.

        Parameters
        ----------
        X : array-like
            Inputs shaped like those given to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
