"""Write ``docs/api.rst`` from the package's ``__all__`` lists, at every build.

The API reference must list every public name, including the ones that land after the page
was written, so it is generated rather than maintained by hand:

* the public modules are ``skin_estimators`` and every importable module below it whose dotted
  path has no component starting with ``_`` and that defines ``__all__``;
* each public object gets one page, under its shortest public name: a name exported at the top
  level (``from skin_estimators import ImageLoader``) is documented as
  ``skin_estimators.ImageLoader``, everything else as ``skin_estimators.<module>.<name>``;
* an object is listed in the section of the public module it comes from (``ImageLoader`` under
  "Preprocessing", even though its page is the top-level name).

Dunder names (``__version__``) are left out of the tables; the version is on the front page.
"""

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

from sklearn.base import BaseEstimator, ClassifierMixin

# Section titles and order; modules not listed here come after these, under their dotted name.
SECTIONS = {
    "skin_estimators.classifiers": "Estimators",
    "skin_estimators": "Other top-level functions",
    "skin_estimators.datasets": "Datasets",
    "skin_estimators.preprocessing": "Preprocessing",
    "skin_estimators.networks": "Networks (PyTorch modules)",
    "skin_estimators.callbacks": "Training callbacks",
    "skin_estimators.metrics": "Metrics",
    "skin_estimators.uncertainty": "How sure a model is",
    "skin_estimators.adaptation": "Adapting a model to another clinic",
    "skin_estimators.audit": "Auditing a data set for shortcuts",
    "skin_estimators.experiments": "Experiments",
    "skin_estimators.persistence": "Model files",
    "skin_estimators.inference": "Predicting from image files",
    "skin_estimators.explain": "Explaining predictions",
    "skin_estimators.utils": "Utilities",
    "skin_estimators.utils.estimator_checks": "Estimator checks",
}

# Public-looking modules that are not part of the library's API.
EXCLUDED_MODULES = {"skin_estimators.cli"}
EXCLUDED_LEAVES = {"conftest", "tests"}

HEADER = """\
.. This file is written by docs/sphinxext/api_reference.py at every build; do not edit it.

.. _api:

=============
API reference
=============

Every public class and function of ``skin_estimators``, grouped by module. Names that can be
imported from the top-level package (``from skin_estimators import ImageLoader``) are documented
under that name. All estimators follow scikit-learn's API: ``fit``, ``predict`` /
``transform``, ``get_params`` / ``set_params``, and work with ``clone``, ``Pipeline``,
``GridSearchCV`` and ``cross_validate``.
"""


def _is_public_path(name):
    parts = name.split(".")
    return not any(p.startswith("_") for p in parts[1:]) and parts[-1] not in EXCLUDED_LEAVES


def public_modules(package_name, log=print):
    """The package and its public modules that define ``__all__``, in import order."""
    package = importlib.import_module(package_name)
    modules = [package]
    for info in pkgutil.walk_packages(package.__path__, package_name + ".", onerror=lambda n: None):
        if not _is_public_path(info.name) or info.name in EXCLUDED_MODULES:
            continue
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            # An optional dependency of that module is not installed: say so, document the rest.
            if exc.name and exc.name.split(".")[0] == package_name:
                raise
            log(f"api_reference: skipping {info.name}: needs {exc.name}, which is not installed")
            continue
        if hasattr(module, "__all__"):
            modules.append(module)
    return modules


def _kind(obj):
    if inspect.isclass(obj):
        if issubclass(obj, ClassifierMixin):
            return 0, "Classifiers"
        if issubclass(obj, BaseEstimator):
            return 1, "Transformers and other estimators"
        if issubclass(obj, BaseException):
            return 4, "Exceptions"
        return 2, "Classes"
    if inspect.isroutine(obj):
        return 3, "Functions"
    return 5, "Constants"


def collect(package_name, log=print):
    """``{section module: [(kind, full public name)]}`` with each object listed once."""
    modules = public_modules(package_name, log=log)
    package = modules[0]
    top = {n: getattr(package, n) for n in package.__all__ if not n.startswith("__")}
    sections = {m.__name__: [] for m in modules}
    placed = set()

    # Deepest module first, so an object re-exported by a parent is listed where it comes from.
    for module in sorted(modules[1:], key=lambda m: -m.__name__.count(".")):
        for name in module.__all__:
            if name.startswith("__"):
                continue
            obj = getattr(module, name)
            if id(obj) in placed and not isinstance(obj, (int, float, str, bool)):
                continue
            full = f"{package_name}.{name}" if top.get(name) is obj else f"{module.__name__}.{name}"
            if full in {f for _, f in sum(sections.values(), [])}:
                continue
            sections[module.__name__].append((_kind(obj), full))
            placed.add(id(obj))
    done = {f for _, f in sum(sections.values(), [])}
    for name, obj in top.items():
        if f"{package_name}.{name}" not in done:
            sections[package_name].append((_kind(obj), f"{package_name}.{name}"))
    return modules, sections


def _summary(module):
    """First paragraph of a module's docstring."""
    doc = inspect.cleandoc(module.__doc__ or "")
    return doc.split("\n\n")[0].strip()


def render(package_name, log=print):
    modules, sections = collect(package_name, log=log)
    order = list(SECTIONS) + sorted(m.__name__ for m in modules if m.__name__ not in SECTIONS)
    lines = [HEADER]
    for modname in order:
        entries = sections.get(modname)
        if not entries:
            continue
        title = SECTIONS.get(modname, f":mod:`{modname}`")
        lines += [title, "=" * len(title), "", f".. py:module:: {modname}", ""]
        lines += [_summary(sys.modules[modname]), "", f"``import {modname}``", ""]
        # Entries are full names; no current module, or autosummary would prefix it to them.
        # (``py:currentmodule`` rather than ``currentmodule``: autosummary's page generator
        # would read the latter's ``None`` as a module name.)
        lines += [".. py:currentmodule:: None", ""]
        by_kind = {}
        for (rank, label), full in entries:
            by_kind.setdefault((rank, label), []).append(full)
        for (_, label), names in sorted(by_kind.items()):
            if len(by_kind) > 1:
                lines += [label, "-" * len(label), ""]
            lines += [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
            lines += [f"   ~{full}" for full in sorted(names, key=lambda s: s.lower())]
            lines.append("")
    return "\n".join(lines)


def write_api_rst(path, package_name="skin_estimators", log=print):
    """Write the page; leave the file untouched when nothing changed (keeps rebuilds quick)."""
    path = Path(path)
    text = render(package_name, log=log)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return text
