"""Which examples can run against the installed ``skin_estimators``.

Each example imports what it needs from ``skin_estimators``; the names are read from the
examples' ``import`` statements, so nothing has to be kept in sync by hand. By default a name
that cannot be imported is an error: every example in ``examples/`` runs in the build. An
example written ahead of the code it shows (a model still being written, say) can be left out
of the gallery instead, with its missing names reported, by building with the environment
variable ``SKIN_DOCS_STRICT_EXAMPLES=0``.
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
    strict = os.environ.get("SKIN_DOCS_STRICT_EXAMPLES", "1") != "0"
    skipped = []
    for path in sorted(Path(examples_dir).glob("*.py")):
        missing = missing_names(path, package)
        if not missing:
            continue
        message = f"example {path.name} needs {', '.join(missing)}, not in this version"
        if strict:
            raise ImportError(
                f"{message}. Fix the example, or build with SKIN_DOCS_STRICT_EXAMPLES=0 to "
                "leave it out of the gallery."
            )
        log(f"sphinx-gallery: leaving out {message}")
        skipped.append(path.name)
    return skipped
