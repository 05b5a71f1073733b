"""Document public constants with the ``#:`` comment written where they are defined.

A constant such as ``skin_estimators.preprocessing.MIN_IMAGE_SIZE`` is defined in a private
module and re-exported by a public one. autodoc looks for its ``#:`` comment only in the public
module, finds none, and falls back to the docstring of the value's type (``int([x]) ->
integer ...``). This extension replaces that with the comment from the defining module.
"""

import importlib
import pkgutil

from sphinx.pycode import ModuleAnalyzer

_PACKAGE = "skin_estimators"
_cache = {}


def _attribute_comments():
    """``{(module name, attribute name): comment lines}`` for every module of the package."""
    if not _cache:
        package = importlib.import_module(_PACKAGE)
        names = [_PACKAGE] + [
            m.name
            for m in pkgutil.walk_packages(package.__path__, _PACKAGE + ".", onerror=lambda n: None)
        ]
        for name in names:
            try:
                docs = ModuleAnalyzer.for_module(name).find_attr_docs()
            except Exception:  # noqa: BLE001 - a module without source: nothing to find
                continue
            for (scope, attr), lines in docs.items():
                if not scope:
                    _cache[(name, attr)] = list(lines)
        _cache.setdefault(None, [])  # mark as filled even if empty
    return _cache


def _comment_for(obj, attr):
    for key, lines in _attribute_comments().items():
        if key is None or key[1] != attr:
            continue
        try:
            module = importlib.import_module(key[0])
        except Exception:  # noqa: BLE001
            continue
        if getattr(module, attr, None) is obj:
            return lines
    return None


def _process_docstring(app, what, name, obj, options, lines):
    if what not in ("data", "attribute") or not name.startswith(_PACKAGE + "."):
        return
    type_doc = [line.strip() for line in (type(obj).__doc__ or "").splitlines() if line.strip()]
    current = [line.strip() for line in lines if line.strip()]
    if current and current != type_doc:
        return  # it has its own documentation
    comment = _comment_for(obj, name.rsplit(".", 1)[-1])
    lines[:] = (comment or []) + [""]


def setup(app):
    # Before numpydoc (priority 500) rewrites the lines.
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
