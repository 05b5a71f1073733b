"""The library's recommended model when no pretrained weights may be downloaded."""

from ..callbacks import WeightAveraging
from ._scattering import ScatteringClassifier

__all__ = ["make_recommended_classifier"]


def make_recommended_classifier(**params):
    """The best model found here that needs no downloaded weights (``benchmarks/configs/best.yaml``).

    A :class:`ScatteringClassifier` with fixed (kymatio's tight-frame) Morlet wavelets, the
    study's BatchNorm + linear top and the study's training setting (J=2, L=8, batch 4, SGD
    lr 0.0091, 22 epochs, random horizontal flips, class-weighted loss), plus two changes
    that helped in ``benchmarks/results/accuracy.md``:

    * the weights are averaged over the second half of training
      (:class:`~skin_estimators.callbacks.WeightAveraging`, stochastic weight averaging);
    * each image is predicted together with its mirror (``tta="hflip"``).

    Fixed wavelets make the scattering of every training image (and of its mirror) a
    one-off cost that is cached for the whole ``fit``: training on the 102 images of
    ``fetch_skin3`` at 400x400 takes about a minute on 2 CPU cores. Expect images of the
    size the model was trained on (the study: 400x400, ``ImageLoader(size=400)``) normalised
    by ``ChannelNormalizer``.

    Parameters
    ----------
    **params
        Any :class:`ScatteringClassifier` parameter, overriding the recommended value (e.g.
        ``random_state=0`` or ``device="cuda"``).

    Returns
    -------
    ScatteringClassifier
        Unfitted.

    Examples
    --------
    >>> from skin_estimators import make_recommended_classifier
    >>> clf = make_recommended_classifier(random_state=0)
    >>> clf.learnable, clf.tta, clf.max_epochs
    (False, 'hflip', 22)
    >>> import numpy as np
    >>> X = np.random.RandomState(0).randn(8, 3, 16, 16).astype("float32")
    >>> clf.set_params(max_epochs=2).fit(X, ["a", "b"] * 4).predict(X).shape
    (8,)
    """
    recommended = dict(
        learnable=False,
        tta="hflip",
        callbacks=[("weight_averaging", WeightAveraging(start=0.5))],
    )
    recommended.update(params)
    return ScatteringClassifier(**recommended)
