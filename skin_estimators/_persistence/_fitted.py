"""The fitted attributes a safe model file may restore, per allow-listed estimator class.

A file's ``fitted`` entry is a mapping from attribute name to value, and loading sets each
one on the new estimator. Only the names its class allows are accepted: the public ``*_``
attributes that the class's ``fit`` creates (and that the writer stores; skorch's run-time
bookkeeping and the networks themselves travel differently). Any other name (``__class__``,
``predict_proba``, ``transform``, a property such as a network's ``classes_``) is refused, so
a file can neither change an object's class nor shadow its methods.

A library estimator declares its names on its class (``_model_file_fields`` and
``_model_file_required``, see ``utils/_model_state.py``), so that what a file may set and how
it is checked cannot diverge; scikit-learn's classes have their tables in ``_sklearn.py``.
The tests fit every allow-listed estimator and check that each attribute the writer stores
is allowed, so the declarations cannot silently fall behind the estimators.
"""

from collections.abc import Mapping

from ..exceptions import InconsistentModelError
from ..utils._model_state import declared_fields
from . import _sklearn

__all__ = ["FITTED", "REQUIRED", "check_fitted_names", "is_fitted_name"]


class _Declared(Mapping):
    """Allow-listed class name -> ``what`` of its class's declaration (a scikit-learn
    class: its entry of ``table``); iterates over the scikit-learn entries only."""

    def __init__(self, table, what):
        self._table, self._what = table, what

    def __getitem__(self, class_name):
        if class_name in self._table:
            return self._table[class_name]
        from ._registry import estimator_class

        try:
            cls = estimator_class(class_name)
        except KeyError:
            raise KeyError(class_name) from None
        fields = declared_fields(cls)
        if fields is None:
            raise KeyError(class_name)
        return tuple(fields) if self._what == "fields" else tuple(
            getattr(cls, "_model_file_required", ()))

    def __iter__(self):
        return iter(self._table)

    def __len__(self):
        return len(self._table)


#: Allow-listed class name -> the fitted attributes a file may set on it.
FITTED = _Declared(_sklearn.FITTED, "fields")

#: Allow-listed class name -> the fitted attributes a file must set (the estimator cannot
#: predict without them).
REQUIRED = _Declared(_sklearn.REQUIRED, "required")


def is_fitted_name(name):
    """Whether ``name`` has the form of a fitted attribute: public and ending in ``_``."""
    return (isinstance(name, str) and name.isidentifier() and name.endswith("_")
            and not name.startswith("_"))


def check_fitted_names(class_name, names, where):
    """Raise InconsistentModelError (a ValueError) unless ``class_name`` has all ``names``.

    Parameters
    ----------
    class_name : str
        The allow-listed name of the estimator's class.
    names : iterable of str
        The keys of the file's ``fitted`` entry.
    where : str
        Where the estimator sits in the file (``model['logisticregression']``).
    """
    allowed = FITTED.get(class_name, ())
    short = class_name.rsplit(".", 1)[-1]
    names = list(names)
    for name in names:
        if not is_fitted_name(name) or name not in allowed:
            listed = ", ".join(allowed) if allowed else "none"
            raise InconsistentModelError(
                f"{where}.{name!s:.60} is not a fitted attribute of {short} (it has: "
                f"{listed}), refusing it"
            )
    missing = [name for name in REQUIRED.get(class_name, ()) if name not in names]
    if missing:
        raise InconsistentModelError(
            f"{where} is a {short} without its fitted attribute(s) {', '.join(missing)}"
        )
