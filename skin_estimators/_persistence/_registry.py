"""What a safe model file may name: the allow-lists of estimator classes and parameter types.

A safe file is data, never code. Every class it mentions is looked up by name in these
tables, built from objects this library already imports; a name that is not in them is an
error, so loading a file can never import a module or call an arbitrary function.
"""

import functools
import inspect

__all__ = [
    "ESTIMATOR_NAMES",
    "estimator_names",
    "callback_class",
    "callback_name",
    "estimator_class",
    "estimator_name",
    "type_by_name",
    "type_name",
]

#: Public estimators of the library, besides the architectures' estimator classes (see
#: ``skin_estimators._registry``), that a safe file may hold (looked up lazily because some
#: are added by other modules; a name the installed version lacks is reported as such).
ESTIMATOR_NAMES = (
    "SkinNetClassifier",
    "ImageLoader",
    "ChannelNormalizer",
    "PretrainedFeatures",
    "TrustedClassifier",
    "DomainAdapter",
)


def estimator_names():
    """Every estimator class name a safe file may hold: the architectures' then the others."""
    names = [arch.estimator.rpartition(":")[2] for arch in _architectures()]
    return tuple(dict.fromkeys([*names, *ESTIMATOR_NAMES]))


def _architectures():
    from .. import _registry

    return tuple(_registry.ARCHITECTURES.values())


#: scikit-learn estimators a safe file may hold (the recommended model's scaler and linear
#: model, and ensembles of models): their fitted attributes are plain arrays and numbers, an
#: ensemble's members nested descriptions.
SKLEARN_ESTIMATORS = {
    "sklearn.preprocessing.StandardScaler": ("sklearn.preprocessing", "StandardScaler"),
    "sklearn.linear_model.LogisticRegression": ("sklearn.linear_model", "LogisticRegression"),
    # soft-voting ensembles of the above and of the library's estimators (``_voting.py``)
    "sklearn.ensemble.VotingClassifier": ("sklearn.ensemble", "VotingClassifier"),
}


def _estimators():
    return _estimator_table(_architectures())


@functools.cache
def _estimator_table(architectures):
    import sklearn.pipeline

    import skin_estimators

    from .. import _registry

    namespaces = [skin_estimators]
    try:
        from skin_estimators import preprocessing

        namespaces.append(preprocessing)
    except ImportError:
        pass
    import importlib

    table = {"sklearn.pipeline.Pipeline": sklearn.pipeline.Pipeline}
    for name, (module, attr) in SKLEARN_ESTIMATORS.items():
        table[name] = getattr(importlib.import_module(module), attr)
    for arch in architectures:
        cls = _registry.resolve(arch.estimator)
        if isinstance(cls, type):  # a factory builds estimators that are listed themselves
            table.setdefault(f"skin_estimators.{cls.__name__}", cls)
    for name in ESTIMATOR_NAMES:
        for namespace in namespaces:
            cls = getattr(namespace, name, None)
            if cls is not None:
                # one public name per class, whichever namespace exports it
                table[f"skin_estimators.{name}"] = cls
                break
    return table


def estimator_name(obj):
    """Allow-listed name of ``obj``'s class, or None."""
    for name, cls in _estimators().items():
        if type(obj) is cls:
            return name
    return None


def estimator_class(name):
    """The class for an allow-listed name; KeyError when it is not allowed (or not installed).

    Imports only the module of that class (loading a feature pipeline does not import the
    skorch classifiers, nor PyTorch); the same classes as the full table (tested).
    """
    import importlib

    if name in SKLEARN_ESTIMATORS:
        module, attr = SKLEARN_ESTIMATORS[name]
        return getattr(importlib.import_module(module), attr)
    if name == "sklearn.pipeline.Pipeline":
        import sklearn.pipeline

        return sklearn.pipeline.Pipeline
    prefix, _, short = name.partition(".")
    if prefix != "skin_estimators" or not short:
        raise KeyError(name)
    from .. import _registry

    for arch in _architectures():
        if arch.estimator.rpartition(":")[2] == short:
            cls = _registry.resolve(arch.estimator)
            if isinstance(cls, type):
                return cls
    if short in ESTIMATOR_NAMES:
        import skin_estimators

        cls = getattr(skin_estimators, short, None)
        if cls is None:
            from skin_estimators import preprocessing

            cls = getattr(preprocessing, short, None)
        if isinstance(cls, type):
            return cls
    return _estimators()[name]  # KeyError when not allowed


def _subclasses_in(namespace, prefix, base):
    out = {}
    for attr in dir(namespace):
        obj = getattr(namespace, attr)
        if inspect.isclass(obj) and issubclass(obj, base) and obj is not base:
            out[f"{prefix}.{attr}"] = obj
    return out


def _types():
    """Classes that may appear as parameter values (optimizers, losses, networks, ...)."""
    return _type_table(_architectures())


@functools.cache
def _type_table(architectures):
    from .. import _registry
    import skorch.dataset
    import torch
    import torch.utils.data

    import skin_estimators.networks as networks

    table = {}
    table.update(_subclasses_in(torch.optim, "torch.optim", torch.optim.Optimizer))
    table.update(_subclasses_in(torch.nn, "torch.nn", torch.nn.modules.loss._Loss))
    table["torch.utils.data.DataLoader"] = torch.utils.data.DataLoader
    table["skorch.dataset.Dataset"] = skorch.dataset.Dataset
    for name in getattr(networks, "__all__", []):
        obj = getattr(networks, name, None)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            table[f"skin_estimators.networks.{name}"] = obj
    known = set(map(id, table.values()))
    for arch in architectures:
        # an architecture's network that skin_estimators.networks does not export is named
        # by the import path its registry entry gives
        network = None if arch.network is None else _registry.resolve(arch.network)
        if network is not None and id(network) not in known:
            table[arch.network] = network
    return table


def type_name(obj):
    """Allow-listed name of a class (or network factory) given as a parameter, or None."""
    for name, known in _types().items():
        if obj is known:
            return name
    return None


def type_by_name(name):
    """The class for an allow-listed type name; KeyError when it is not allowed."""
    return _types()[name]


@functools.cache
def _callbacks():
    """The library's own skorch callbacks: instances of these may be stored with their params."""
    import skin_estimators.callbacks as callbacks

    return {f"skin_estimators.callbacks.{name}": getattr(callbacks, name) for name in callbacks.__all__}


def callback_name(obj):
    """Allow-listed name of a callback instance's class, or None."""
    for name, cls in _callbacks().items():
        if type(obj) is cls:
            return name
    return None


def callback_class(name):
    """The callback class for an allow-listed name; KeyError when it is not allowed."""
    return _callbacks()[name]
