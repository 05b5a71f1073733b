"""The names a config gives -> what they stand for: model names -> estimator classes (or
factories) of ``skin_estimators``, optimizer names -> ``torch.optim`` classes.

The names are those of the library's architecture table (``skin_estimators._registry``).
They are looked up when a config is checked, not when this module is imported, so that an
architecture missing from an installation only matters to the configs that name it.
"""

import importlib
from collections.abc import Mapping

from .. import _registry

__all__ = [
    "MODELS", "available_models", "default_normalization", "optimizer_class", "resolve_model",
]


class _Models(Mapping):
    """Config name -> (estimator class or factory name, normalisation of ``"auto"``), read
    from the architecture table on every access."""

    def __getitem__(self, name):
        arch = _registry.ARCHITECTURES[name]
        return arch.estimator.rpartition(":")[2], arch.normalization

    def __iter__(self):
        return iter(list(_registry.ARCHITECTURES))

    def __len__(self):
        return len(_registry.ARCHITECTURES)

    def __repr__(self):
        return f"MODELS({dict(self)!r})"


#: Config name -> (class or factory name, normalisation used when the config says "auto").
#: Networks trained from scratch learn the statistics of each training fold; pretrained
#: backbones must see the statistics of their pretraining (the recommended model is frozen
#: EfficientNet-Lite0 features + a linear model).
MODELS = _Models()


def _lookup(name):
    return _registry.estimator_of(name)


def available_models():
    """The config names whose estimator class exists in this installation, in registry order.

    Examples
    --------
    >>> from skin_estimators.experiments import available_models
    >>> "cnn" in available_models()
    True
    """
    return [name for name in MODELS if _lookup(name) is not None]


#: Functions of this library that a config may name without ``allow_import``: they only build
#: an estimator. (Other library functions, e.g. ``download_weights``, touch the network.)
LIBRARY_FACTORIES = {"make_recommended_classifier", "make_scattering_recommended"}


def _is_library_estimator(module_name, obj):
    from sklearn.base import BaseEstimator

    if not (module_name == "skin_estimators" or module_name.startswith("skin_estimators.")):
        return False
    if isinstance(obj, type):
        return issubclass(obj, BaseEstimator)
    return getattr(obj, "__name__", None) in LIBRARY_FACTORIES


def resolve_model(name, allow_import=False):
    """Return the estimator class (or factory) that a config's model ``name`` stands for.

    ``name`` is one of :data:`MODELS` (``cnn``, ``scattering``, ``resnet50``, ``bit``,
    ``recommended``), or an import path ``"package.module:ClassName"`` (or ``:factory``, a
    function returning an unfitted estimator). Import paths run code (importing a module,
    then calling the object), and configs are shared like model files: by default only the
    library's own estimator classes and factories are accepted
    (``"skin_estimators:ScatteringClassifier"``); anything else needs ``allow_import=True``
    (``--allow-import`` on the command line), like ``trust_pickle`` for joblib model files.

    Raises
    ------
    ValueError
        If the name is unknown, names a model whose class this installation lacks, or is
        an import path outside the library without ``allow_import``; the message lists the
        models that are available.

    Examples
    --------
    >>> from skin_estimators.experiments import resolve_model
    >>> resolve_model("cnn").__name__
    'VanillaCNNClassifier'
    >>> resolve_model("skin_estimators:ScatteringClassifier").__name__
    'ScatteringClassifier'
    >>> resolve_model("recommended")().steps[0][0]
    'pretrainedfeatures'
    >>> resolve_model("os:abort")
    Traceback (most recent call last):
    ...
    ValueError: model 'os:abort' is an import path outside skin_estimators: ...
    """
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        own = module_name == "skin_estimators" or module_name.startswith("skin_estimators.")
        if not (own or allow_import):
            raise ValueError(
                f"model {name!r} is an import path outside skin_estimators: loading it would "
                "import and run that code. Use one of the models "
                f"{', '.join(available_models())}, or, if you trust this config, allow imports "
                "(--allow-import on the command line, allow_import=True in Python)."
            )
        try:
            obj = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(
                f"cannot import estimator {name!r} ({exc}). Use 'package.module:ClassName' "
                f"or one of the models {', '.join(available_models())}."
            ) from None
        if own and not allow_import and not _is_library_estimator(module_name, obj):
            raise ValueError(
                f"model {name!r} is not an estimator class or estimator factory of "
                f"skin_estimators; use one of the models {', '.join(available_models())}."
            )
        return obj
    available = ", ".join(available_models())
    if name not in MODELS:
        raise ValueError(
            f"unknown model {name!r}; available models: {available} "
            "(or an import path 'package.module:ClassName')."
        )
    cls = _lookup(name)
    if cls is None:
        raise ValueError(
            f"unknown model {name!r}: this installation of skin_estimators has no "
            f"{MODELS[name][0]}; available models: {available}."
        )
    return cls


def default_normalization(name):
    """The normalisation that ``normalization: auto`` means for model ``name``."""
    return MODELS[name][1] if name in MODELS else "fold"


def optimizer_class(name):
    """The ``torch.optim`` optimizer class called ``name``, or None (a config's
    ``optimizer: Adam``).

    Examples
    --------
    >>> from skin_estimators.experiments._registry import optimizer_class
    >>> optimizer_class("SGD").__name__, optimizer_class("nope")
    ('SGD', None)
    """
    import torch

    cls = getattr(torch.optim, name, None)
    ok = isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
    return cls if ok else None
