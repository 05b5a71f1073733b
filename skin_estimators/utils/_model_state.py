"""What an estimator keeps in a safe model file, declared on its class.

A safe model file holds an estimator of the library only if its class says so, with the
class decorator :func:`stored_in_model_files`, and declares there what it stores:

``_model_file_fields``
    ``{attribute: field}`` (see :mod:`._fields`): the fitted attributes a file may set on
    it, each with the kind, shape and range it may hold, in the order they are checked.
    Any other name in a file is refused.
``_model_file_required`` (default: none)
    The fitted attributes a file must set (the estimator cannot predict without them).
``_check_model_file_state(self, where)`` (default: the fields' checks)
    Checks the attributes a file set against each other and the parameters, raising
    :class:`~skin_estimators.exceptions.InconsistentModelError` naming ``where`` (the place
    of the estimator in the file, ``model['trustedclassifier']``).
``_model_file_networks`` (default: none)
    The skorch networks (``("module",)``) whose weights the file holds as tensors; the
    estimator rebuilds them with ``_initialize_for_loading()`` and checks its state first.
``_model_file_fold_models`` (default: 0)
    How many fold models (``estimators_``, nested estimators of their own) a file may hold.

The model-file code reads these declarations only; it knows the library's estimators by no
other table. A subclass inherits its base's declaration; it is held by a file once it is
decorated itself, or is an architecture's estimator (``skin_estimators._registry``).

>>> import numpy as np
>>> from skin_estimators.utils._fields import Floats, Integer
>>> @stored_in_model_files
... class Centroids:
...     _model_file_fields = {"n_features_in_": Integer(1, binds="width"),
...                           "centroids_": Floats(None, "width")}
...     _model_file_required = ("centroids_",)
>>> registered_class("skin_estimators.Centroids") is Centroids
True
>>> est = Centroids()
>>> est.n_features_in_, est.centroids_ = 3, np.zeros((2, 4))
>>> check_model_file_state(est, "model")
Traceback (most recent call last):
...
skin_estimators.exceptions.InconsistentModelError: model.centroids_ has shape (2, 4), 4 along axis 1; 3 expected (width: model.n_features_in_)
>>> _CLASSES.pop("skin_estimators.Centroids") is Centroids
True
"""

from ._fields import check_fields

__all__ = ["check_model_file_state", "declared_fields", "registered_class",
           "stored_in_model_files"]

#: ``"skin_estimators.<class name>"`` -> the classes declared storable so far (a class is
#: declared when its module is imported).
_CLASSES = {}


def stored_in_model_files(cls):
    """Class decorator: a safe model file may hold ``cls``, as ``skin_estimators.<name>``.

    The class declares its fitted state (``_model_file_fields``, see the module's
    documentation); TypeError if it does not.
    """
    if declared_fields(cls) is None:
        raise TypeError(f"{cls.__name__} declares no _model_file_fields; a model file cannot "
                        "hold it")
    name = f"skin_estimators.{cls.__name__}"
    known = _CLASSES.get(name, cls)
    if (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise TypeError(f"{name} is already {known.__module__}.{known.__qualname__}, a class "
                        "of model files")
    _CLASSES[name] = cls  # (a module imported again declares its class again)
    return cls


def registered_class(name):
    """The class declared storable under ``name``, or None."""
    return _CLASSES.get(name)


def registered_classes():
    """``{name: class}`` of the classes declared storable so far."""
    return dict(_CLASSES)


def declared_fields(cls):
    """``cls``'s declared fitted fields, or None when it declares none."""
    fields = getattr(cls, "_model_file_fields", None)
    return fields if isinstance(fields, dict) else None


def check_model_file_state(est, where):
    """Check the fitted state a file set on ``est``, as its class declares."""
    check = getattr(est, "_check_model_file_state", None)
    if check is not None:
        check(where)
    else:
        check_fields(est, declared_fields(type(est)) or {}, where)
