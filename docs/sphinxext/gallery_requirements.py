"""Which examples can run against the installed ``skin_estimators``.

Each example imports what it needs from ``skin_estimators``; an example whose imports name
something this version of the package does not have yet (a model still being written, say) is
left out of the gallery instead of failing the build. The names are read from the examples'
``import`` statements, so nothing has to be kept in sync by hand. Set the environment variable
``SKIN_DOCS_STRICT_EXAMPLES=1`` to make a missing name an error instead.
"""

import ast
import importlib
import os
from pathlib import Path


def _imported_names(path, package):
    """``[(module, name or None)]`` for every import of ``package`` in the file."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == package:
                found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.split(".")[0] == package]
    return found


def missing_names(path, package="skin_estimators"):
    """The names an example imports from ``package`` that cannot be imported here."""
    missing = []
    for module_name, name in _imported_names(path, package):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            missing.append(module_name)
            continue
        if name is not None and name != "*" and not hasattr(module, name):
            try:  # ``from package import submodule``
                importlib.import_module(f"{module_name}.{name}")
            except ImportError:
                missing.append(f"{module_name}.{name}")
    return missing


def unavailable_examples(examples_dir, package="skin_estimators", log=print):
    """File names of the examples to leave out, each reported once through ``log``."""
    strict = os.environ.get("SKIN_DOCS_STRICT_EXAMPLES", "") not in ("", "0")
    skipped = []
    for path in sorted(Path(examples_dir).glob("*.py")):
        missing = missing_names(path, package)
        if not missing:
            continue
        message = f"example {path.name} needs {', '.join(missing)}, not in this version"
        if strict:
            raise ImportError(message)
        log(f"sphinx-gallery: leaving out {message}")
        skipped.append(path.name)
    return skipped
