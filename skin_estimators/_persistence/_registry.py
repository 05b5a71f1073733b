"""What a safe model file may name: the allow-lists of estimator classes and parameter types.

A safe file is data, never code. Every class it mentions is looked up by name: scikit-learn's
few classes in a table here, an architecture's estimator through the architecture table
(``skin_estimators._registry``), any other estimator of the library among the classes that
declare themselves storable (``utils/_model_state.py``); parameter types in tables built
from objects this library already imports. A name that is not allowed is an error, so
loading a file can never import a module outside the library or call an arbitrary function.
"""

import functools
import importlib
import inspect

from ..utils._model_state import registered_class, registered_classes

__all__ = [
    "estimator_names",
    "callback_class",
    "callback_name",
    "estimator_class",
    "estimator_name",
    "type_by_name",
    "type_name",
]


def estimator_names():
    """Every estimator class name a safe file may hold: the architectures' then the others."""
    names = [arch.estimator.rpartition(":")[2] for arch in _architectures()]
    others = sorted(name.partition(".")[2] for name in _library_classes())
    return tuple(dict.fromkeys([*names, *others]))


def _architectures():
    return tuple(_arch_registry().ARCHITECTURES.values())


#: scikit-learn estimators a safe file may hold (the recommended model's scaler and linear
#: model, and ensembles of models): their fitted attributes are plain arrays and numbers, an
#: ensemble's members nested descriptions (their tables: ``_sklearn.py``).
SKLEARN_ESTIMATORS = {
    "sklearn.preprocessing.StandardScaler": ("sklearn.preprocessing", "StandardScaler"),
    "sklearn.linear_model.LogisticRegression": ("sklearn.linear_model", "LogisticRegression"),
    # soft-voting ensembles of the above and of the library's estimators (``_voting.py``)
    "sklearn.ensemble.VotingClassifier": ("sklearn.ensemble", "VotingClassifier"),
    "sklearn.pipeline.Pipeline": ("sklearn.pipeline", "Pipeline"),
}


def _library_classes():
    """The library's classes declared storable, every public module of it imported (each
    class declares itself when its module is imported)."""
    _import_public_names()
    return registered_classes()


@functools.cache
def _import_public_names():
    import skin_estimators

    for name in skin_estimators.__all__:
        try:
            getattr(skin_estimators, name)
        except ImportError:  # an optional component that is not installed
            pass


def _estimators():
    """Every class a safe file may hold: ``{allow-listed name: class}``."""
    table = dict(_fixed_table(_architectures()))
    for name, cls in _library_classes().items():
        table.setdefault(name, cls)
    return table


@functools.cache
def _fixed_table(architectures):
    """scikit-learn's classes, and the architectures' estimator classes."""
    table = {name: _import(*where) for name, where in SKLEARN_ESTIMATORS.items()}
    for arch in architectures:
        cls = _arch_registry().resolve(arch.estimator)
        if isinstance(cls, type):  # a factory builds estimators that are listed themselves
            table.setdefault(f"skin_estimators.{cls.__name__}", cls)
    return table


def _import(module, attr):
    return getattr(importlib.import_module(module), attr)


def _arch_registry():
    from .. import _registry

    return _registry


def estimator_name(obj):
    """Allow-listed name of ``obj``'s class, or None."""
    for name, cls in _estimators().items():
        if type(obj) is cls:
            return name
    return None


def estimator_class(name):
    """The class for an allow-listed name; KeyError when it is not allowed (or not installed).

    Imports only the module of that class (loading a feature pipeline does not import the
    skorch classifiers, nor PyTorch): a scikit-learn class's, an architecture's estimator
    module (named by the architecture table), or the module of a public name of the library
    whose class declares itself storable (``utils/_model_state.py``); the same classes as
    the full table (tested).
    """
    if name in SKLEARN_ESTIMATORS:
        return _import(*SKLEARN_ESTIMATORS[name])
    prefix, _, short = name.partition(".")
    if prefix != "skin_estimators" or not short:
        raise KeyError(name)
    cls = registered_class(name)
    if cls is not None:
        return cls
    for arch in _architectures():
        if arch.estimator.rpartition(":")[2] == short:
            cls = _arch_registry().resolve(arch.estimator)
            if isinstance(cls, type):
                return cls
    import skin_estimators

    if short in skin_estimators.__all__:
        getattr(skin_estimators, short)  # imports its module: a storable class declares itself
        cls = registered_class(name)
        if cls is not None:
            return cls
    raise KeyError(name)


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
    import skorch.dataset
    import torch
    import torch.utils.data

    import skin_estimators.networks as networks

    from .. import _registry

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
