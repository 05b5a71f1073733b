"""A config row and the model it builds: ImageLoader -> ChannelNormalizer -> estimator.

The rows are made by :meth:`ExperimentConfig.rows` (``_config.py``, the schema); this module
turns one into an estimator or a pipeline from file paths, for ``train``, the runner's folds
and their saved models alike.
"""

import functools
import inspect
from dataclasses import dataclass, field

from .._registry import estimator_params
from ._registry import optimizer_class, resolve_model

__all__ = ["Row", "image_loader"]


def image_loader(image_size, resize, cache=True, controlled=False, color_constancy=None):
    """The ``ImageLoader`` of a config's ``image_size`` (int or [height, width]) and ``resize``.

    ``controlled``: the controlled inputs of the ``controlled`` protocol, ``CONTROLLED_INPUTS``
    (bottom band cut, common pixel scale, centre crop) in place of ``resize``.
    ``color_constancy``: the config's ``color_constancy`` (``ImageLoader``'s parameter).
    """
    from skin_estimators.preprocessing import CONTROLLED_INPUTS, ImageLoader

    size = image_size if isinstance(image_size, int) else tuple(image_size)
    options = dict(CONTROLLED_INPUTS) if controlled else {"resize": resize}
    return ImageLoader(size=size, cache=cache, color_constancy=color_constancy, **options)


@dataclass
class Row:
    """One row of the results table (before the CV protocol is chosen).

    Examples
    --------
    >>> from skin_estimators.experiments import validate_config
    >>> config = validate_config({"data": "fetch_skin3", "models": [
    ...     {"name": "cnn", "params": {"max_epochs": 2}, "grid": {"lr": [0.01, 0.001]}}]})
    >>> row = config.rows()[1]
    >>> row.model, row.params, row.normalization
    ('cnn', {'max_epochs': 2, 'lr': 0.001}, 'fold')
    >>> row.make_estimator(seed=42, device="cpu").get_params()["lr"]
    0.001
    >>> [name for name, _ in row.make_pipeline(random_state=42, device="cpu").steps]
    ['imageloader', 'channelnormalizer', 'vanillacnnclassifier']
    >>> loader = row.make_pipeline(random_state=42, device="cpu", controlled=True)[0]
    >>> loader.resize, loader.crop_bottom, loader.common_scale
    ('crop', 0.15, 298)
    """

    model: str
    label: str
    params: dict
    normalization: str
    grid_values: dict = field(default_factory=dict)
    reference: dict | None = None
    entry: int = 0
    row_id: str = ""
    image_size: int | list = 400
    resize: str = "stretch"
    color_constancy: str | None = None
    #: An ensemble row's members (rows themselves); None for any other row.
    members: list | None = None

    @functools.cached_property
    def max_epochs(self):
        """Epochs of one fit (progress bars): ``params["max_epochs"]``, else the default."""
        if self.members is not None:
            return sum(m.max_epochs for m in self.members)
        if "max_epochs" in self.params:
            return int(self.params["max_epochs"])
        model = resolve_model(self.model, allow_import=True)  # validated with the config
        if isinstance(model, type):
            default = inspect.signature(model).parameters.get("max_epochs")
            if default is not None and default.default is not inspect.Parameter.empty:
                return int(default.default)
        # A factory (or a class that takes **kwargs): only an instance knows its default. An
        # estimator without epochs (features + linear model) counts as one step of progress.
        return int(model().get_params().get("max_epochs", 1))

    def make_pipeline(self, random_state, device, *, cache=True, controlled=False, trust=None):
        """The row as a model from file paths: ImageLoader -> ChannelNormalizer -> estimator.

        The one place a config row becomes a pipeline (``train``, the runner's folds and
        their saved models all use it). ``normalization: fold`` is a ``ChannelNormalizer``
        that learns its statistics in ``fit``; a preset name fixes them. ``controlled``: the
        ImageLoader of the ``controlled`` protocol (``CONTROLLED_INPUTS``). ``trust``: the
        config's ``trust:`` section, which wraps the estimator in a ``TrustedClassifier``.
        """
        from sklearn.pipeline import make_pipeline

        from skin_estimators import ChannelNormalizer

        norm = ChannelNormalizer() if self.normalization == "fold" else ChannelNormalizer(
            mean=self.normalization)
        est = self.make_estimator(random_state, device)
        if trust is not None:
            from skin_estimators import TrustedClassifier

            est = TrustedClassifier(est, random_state=random_state, **trust.classifier_params())
        return make_pipeline(image_loader(self.image_size, self.resize, cache=cache,
                                          controlled=controlled,
                                          color_constancy=self.color_constancy), norm, est)

    def make_estimator(self, seed, device):
        """A fresh estimator with this row's parameters (``random_state`` defaults to ``seed``)."""
        if self.members is not None:
            from ._ensemble import make_ensemble

            return make_ensemble(self, seed, device)
        # The config was validated, import paths included (allow_import was decided then).
        cls = resolve_model(self.model, allow_import=True)
        est = cls(**estimator_params(self.model))
        defaults = {"random_state": seed, "device": device, "verbose": 0}
        names = est.get_params(deep=False)
        # (a scikit-learn pipeline's verbose is a bool, and it has no random_state or device)
        params = {k: v for k, v in defaults.items() if k in names and not hasattr(est, "steps")}
        params.update(self.params)
        if isinstance(params.get("optimizer"), str):  # "Adam" -> torch.optim.Adam
            params["optimizer"] = optimizer_class(params["optimizer"])
        return est.set_params(**params)
