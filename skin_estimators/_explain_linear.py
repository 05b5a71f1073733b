"""Saliency for frozen pretrained features followed by a linear model (the recommended model).

A pipeline ``PretrainedFeatures -> StandardScaler -> LogisticRegression`` (alone, or inside a
:class:`~skin_estimators.TrustedClassifier`) is differentiable from the image to the logits:
the features are global means of the frozen network's feature maps, the scaler is an affine
map and the logistic regression's decision function is linear. ``LinearProbeNetwork`` (built
by ``_network_class``, so that torch is imported only when needed) is that function as a
``torch.nn.Module`` (the scaler folded into the linear head, the
mirror averaging of ``PretrainedFeatures(mirror=True)`` kept), so that Grad-CAM and gradient
saliency run through it exactly as through a network classifier. Its logits are the
pipeline's ``decision_function`` to float32 precision.

Grad-CAM looks at the backbone's last feature stage (``blocks.6`` of EfficientNet-Lite, the
last ``feature_info`` module of a timm backbone), whose output feeds both the stage-6 means and
the pooled head features. The features of earlier stages (the stage 2-5 means of the
recommended model) reach the logits without passing through that stage; the map does not show
their share. With ``mirror=True`` the maps of the photo and of its mirror image (flipped back)
are added before the rectification, as the features are averaged.
"""

import functools

import numpy as np

__all__ = ["LinearProbe", "linear_probe"]


def _is_affine(step):
    from sklearn.preprocessing import StandardScaler

    from .adaptation import DomainAdapter

    return (step is None or step == "passthrough"
            or isinstance(step, (StandardScaler, DomainAdapter)))


def _affine_parts(step, n_features):
    """``(offset, scale, components)`` of an affine step ``x -> ((x - offset) / scale) @
    components`` (components None for the identity matrix)."""
    from .adaptation import DomainAdapter

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return np.zeros(n_features), np.ones(n_features), None
    if isinstance(step, DomainAdapter):
        if not step.n_target_:  # not adapted: the identity
            return np.zeros(n_features), np.ones(n_features), None
        return step.offset_, step.scale_, step.components_
    scale = np.ones(n_features) if step.scale_ is None else step.scale_
    mean = np.zeros(n_features) if step.mean_ is None else step.mean_
    return mean, scale, None


def _chain(model):
    """``(preprocess, tail, steps)`` of a pipeline holding frozen features, or None.

    ``preprocess``: the steps before the features (they take files); ``tail``: what takes
    their output (the rest of the pipeline, or the TrustedClassifier); ``steps``: the
    estimators from the features to the linear head.
    """
    from sklearn.pipeline import Pipeline

    from .preprocessing import PretrainedFeatures

    if not isinstance(model, Pipeline) or len(model.steps) < 2:
        return None
    steps = [step for _, step in model.steps]
    for i, step in enumerate(steps):
        if isinstance(step, PretrainedFeatures) and i:
            return model[:i], model[i:], steps[i:]
    inner = getattr(steps[-1], "estimator_", None)
    if isinstance(inner, Pipeline) and isinstance(inner.steps[0][1], PretrainedFeatures):
        return model[:-1], steps[-1], [step for _, step in inner.steps]
    return None


def _linear_weights(steps, classes):
    """The float64 ``(weight, bias)`` of logits = features @ weight.T + bias, or a reason."""
    *affine, head = steps[1:]
    bad = [type(s).__name__ for s in affine if not _is_affine(s)]
    if bad:
        return f"its step {bad[0]} between the features and the classifier is not affine"
    if not (hasattr(head, "coef_") and hasattr(head, "intercept_")
            and hasattr(head, "decision_function")):
        return f"its classifier {type(head).__name__} is not linear (no coef_ and intercept_)"
    coef = np.asarray(head.coef_, dtype=float)
    bias = np.atleast_1d(np.asarray(head.intercept_, dtype=float))
    for step in reversed(affine):  # fold the last step into the head first
        components = None
        if step is not None and not (isinstance(step, str) and step == "passthrough"):
            components = getattr(step, "components_", None)
        n_in = coef.shape[1] if components is None else np.asarray(components).shape[0]
        offset, scale, components = _affine_parts(step, n_in)
        if components is not None:  # (f - o) / s @ C @ coef.T = (f - o) / s @ (coef @ C.T).T
            coef = coef @ np.asarray(components, dtype=float).T
        coef = coef / np.asarray(scale, dtype=float)
        bias = bias - coef @ np.asarray(offset, dtype=float)
    if len(coef) == 1:  # binary: softmax([-d/2, d/2]) is the logistic probability of d
        coef, bias = np.vstack([-coef / 2, coef / 2]), np.concatenate([-bias / 2, bias / 2])
    if len(coef) != len(classes) or not np.array_equal(np.asarray(head.classes_),
                                                        np.asarray(classes)):
        return "its classifier's classes differ from the model's"
    return coef, bias


def _target_layer(backbone):
    """The backbone's last feature stage (timm's last ``feature_info`` module)."""
    info = getattr(backbone, "feature_info", None)
    try:
        return backbone.get_submodule(info[-1]["module"])
    except (TypeError, KeyError, IndexError, AttributeError):
        return backbone.blocks[-1]


@functools.cache
def _network_class():
    import torch

    class LinearProbeNetwork(torch.nn.Module):
        """Images -> frozen features (mirror-averaged) -> linear logits, differentiable."""

        def __init__(self, features, weight, bias):
            super().__init__()
            self._features = features  # PretrainedFeatures, whose _forward runs backbone
            self.backbone = features.backbone_
            self.mirror = bool(features.mirror)
            self.register_buffer("weight", torch.as_tensor(weight, dtype=torch.float32))
            self.register_buffer("bias", torch.as_tensor(bias, dtype=torch.float32))

        def forward(self, x):
            n = len(x)
            if self.mirror:
                x = torch.cat([x, x.flip(-1)])
            f = self._features._forward(x)
            if self.mirror:
                f = (f[:n] + f[n:]) / 2
            return f @ self.weight.T + self.bias

    return LinearProbeNetwork


class LinearProbe:
    """What ``explain`` needs of a frozen-features + linear-head model.

    Attributes
    ----------
    preprocess : Pipeline
        The steps that turn files into the features' input (ImageLoader, ChannelNormalizer).
    tail : estimator
        What takes their output and gives the model's probabilities (a TrustedClassifier's
        are calibrated).
    classes_ : ndarray
    network : torch.nn.Module
        ``LinearProbeNetwork``: normalised images to the linear head's logits.
    """

    def __init__(self, preprocess, tail, features, weight, bias):
        self.preprocess, self.tail = preprocess, tail
        self.classes_ = np.asarray(tail.classes_)
        self.network = _network_class()(features, weight, bias).eval()
        self.target_layer = _target_layer(self.network.backbone)

    def predict_proba(self, X):
        return self.tail.predict_proba(X)

    def logits(self, X):
        """The network's float32 logits of normalised images ``X``."""
        import torch

        with torch.no_grad():
            return self.network(torch.as_tensor(np.asarray(X, dtype=np.float32))).numpy()

    def saliency(self, X, targets, method):
        """Maps ``(n, H, W)`` in [0, 1] of the classes ``targets`` (indices) for images X."""
        import torch

        x = torch.as_tensor(np.ascontiguousarray(np.asarray(X, dtype=np.float32)))
        self.network.eval()
        try:
            if method == "gradient":
                x = x.clone().requires_grad_(True)
                logits = self.network(x)
                logits[torch.arange(len(x)), torch.as_tensor(targets)].sum().backward()
                g = x.grad.detach().abs().amax(dim=1).numpy()
                peak = g.reshape(len(g), -1).max(axis=1).reshape(-1, 1, 1)
                return (g / np.maximum(peak, 1e-12)).astype(np.float32)
            return _mirrored_gradcam(self.network, self.target_layer, x, targets)
        finally:
            self.network.zero_grad(set_to_none=True)


def _mirrored_gradcam(network, layer, x, targets):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    n, mirror = len(x), network.mirror

    class _GradCAM(GradCAM):
        def get_cam_image(self, *args, **kwargs):
            cam = super().get_cam_image(*args, **kwargs)
            # The layer saw the photos, then their mirror images: add each mirror's map,
            # flipped back, to its photo's (before the rectification, as the features add).
            return cam[:n] + cam[n:, :, ::-1] if mirror else cam

    x = x.detach().requires_grad_(True)  # so that the hooks fire on the frozen backbone
    with _GradCAM(model=network, target_layers=[layer]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in targets])
    return np.asarray(maps, dtype=np.float32)


def linear_probe(model):
    """A :class:`LinearProbe` of a fitted pipeline on files, or None when it holds no
    frozen :class:`~skin_estimators.PretrainedFeatures`.

    Raises
    ------
    ValueError
        When it holds frozen features but what follows them is not an affine map and a
        linear classifier (the saliency would not follow the model), or the features are
        computed per tile.

    Examples
    --------
    >>> from skin_estimators._explain_linear import linear_probe
    >>> from skin_estimators import ChannelNormalizer, ImageLoader, VanillaCNNClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> linear_probe(make_pipeline(ImageLoader(), ChannelNormalizer(), VanillaCNNClassifier()))
    """
    chain = _chain(model)
    if chain is None:
        return None
    preprocess, tail, steps = chain
    features = steps[0]
    if features.tiles is not None:
        raise ValueError("explain: this model computes its features per tile "
                         f"(PretrainedFeatures(tiles={features.tiles})); saliency maps of "
                         "tiled features are not available.")
    weights = _linear_weights(steps, tail.classes_)
    if isinstance(weights, str):
        raise ValueError(f"explain: this model cannot be explained: {weights}; saliency "
                         "needs a network classifier, or frozen PretrainedFeatures followed "
                         "by StandardScaler and a linear classifier.")
    return LinearProbe(preprocess, tail, features, *weights)
