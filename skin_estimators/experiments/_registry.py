"""Model names of the configs -> estimator classes of ``skin_estimators``, looked up lazily.

The names are looked up when a config is checked, not when this module is imported, so that
an architecture that lands later (or is missing from an installation) only matters to the
configs that name it.
"""

import importlib

__all__ = ["MODELS", "available_models", "default_normalization", "resolve_model"]

#: Config name -> (class name in ``skin_estimators``, normalisation used when the config says
#: "auto"). Networks trained from scratch learn the statistics of each training fold;
#: pretrained backbones must see the statistics of their pretraining.
MODELS = {
    "cnn": ("VanillaCNNClassifier", "fold"),
    "scattering": ("ScatteringClassifier", "fold"),
    "resnet50": ("ResNet50Classifier", "imagenet"),
    "bit": ("BiTClassifier", "bit"),
    "efficientnet_lite": ("EfficientNetLiteClassifier", "efficientnet_lite"),
}


def _lookup(class_name):
    import skin_estimators

    return getattr(skin_estimators, class_name, None)


def available_models():
    """The config names whose estimator class exists in this installation, in registry order.

    Examples
    --------
    >>> from skin_estimators.experiments import available_models
    >>> "cnn" in available_models()
    True
    """
    return [name for name, (cls, _) in MODELS.items() if _lookup(cls) is not None]


def resolve_model(name):
    """Return the estimator class that a config's model ``name`` stands for.

    ``name`` is one of :data:`MODELS` (``cnn``, ``scattering``, ``resnet50``, ``bit``) or an
    import path ``"package.module:ClassName"`` for an estimator of your own.

    Raises
    ------
    ValueError
        If the name is unknown, or names a model whose class this installation lacks; the
        message lists the models that are available.

    Examples
    --------
    >>> from skin_estimators.experiments import resolve_model
    >>> resolve_model("cnn").__name__
    'VanillaCNNClassifier'
    >>> resolve_model("skin_estimators:ScatteringClassifier").__name__
    'ScatteringClassifier'
    """
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(
                f"cannot import estimator {name!r} ({exc}). Use 'package.module:ClassName' "
                f"or one of the models {', '.join(available_models())}."
            ) from None
    available = ", ".join(available_models())
    if name not in MODELS:
        raise ValueError(
            f"unknown model {name!r}; available models: {available} "
            "(or an import path 'package.module:ClassName')."
        )
    cls = _lookup(MODELS[name][0])
    if cls is None:
        raise ValueError(
            f"unknown model {name!r}: this installation of skin_estimators has no "
            f"{MODELS[name][0]}; available models: {available}."
        )
    return cls


def default_normalization(name):
    """The normalisation that ``normalization: auto`` means for model ``name``."""
    return MODELS[name][1] if name in MODELS else "fold"
