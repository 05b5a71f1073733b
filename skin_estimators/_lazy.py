"""Public names imported on first use (PEP 562), for a package's ``__init__``.

A package that lists its public names in a table (name -> the module defining it) gets its
module-level ``__getattr__`` and ``__dir__`` from :func:`lazy_exports`, so importing the
package imports none of those modules (nor what they import: PyTorch, scikit-learn, timm)
until a name is used. This module imports only the standard library.
"""

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package, table, namespace):
    """``(__getattr__, __dir__)`` for the package ``package`` whose names are in ``table``.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (relative module names in ``table`` resolve against it).
    table : dict of str to str
        Public name -> the module that defines it (``"._backbones"``, or absolute).
    namespace : dict
        The package's ``globals()``: a name is stored there once imported, so that later
        lookups skip ``__getattr__``.

    Examples
    --------
    >>> from skin_estimators._lazy import lazy_exports
    >>> namespace = {}
    >>> getattr_, dir_ = lazy_exports("skin_estimators", {"sqrt": "math"}, namespace)
    >>> getattr_("sqrt")(9.0), "sqrt" in namespace, dir_()
    (3.0, True, ['sqrt'])
    """

    def __getattr__(name):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__():
        return sorted({*namespace, *namespace.get("__all__", ()), *table})

    return __getattr__, __dir__
