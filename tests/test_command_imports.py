"""The command modules use the public API, and the one documented internal module."""

import ast
import importlib
import pathlib

import pytest

import skin_estimators
from skin_estimators import _internal

COMMANDS = pathlib.Path(skin_estimators.__file__).parent / "_commands"

#: The library's modules documented as internal API for the commands.
DOCUMENTED_INTERNAL = {"skin_estimators._internal"}


def _imported_modules(path):
    """(line, absolute module name, imported names) of every import of the library."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = "skin_estimators._commands".split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [a.name for a in node.names]
            if module.startswith("skin_estimators"):
                yield node.lineno, module, names
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("skin_estimators"):
                    yield node.lineno, alias.name, []


def _private(module, names):
    """The private parts of ``from module import names``, outside _commands itself."""
    if module.startswith("skin_estimators._commands") or module in DOCUMENTED_INTERNAL:
        return []
    if any(part.startswith("_") for part in module.split(".")[1:]):
        return [module]
    out = []
    for name in names:
        full = f"{module}.{name}"
        if name.startswith("_") and full not in DOCUMENTED_INTERNAL:
            out.append(full)  # a private module of the package, or a private name
    return out


@pytest.mark.parametrize("path", sorted(COMMANDS.glob("*.py")), ids=lambda p: p.name)
def test_commands_import_only_public_or_documented_internal_modules(path):
    bad = [f"{path.name}:{line}: {p}" for line, module, names in _imported_modules(path)
           for p in _private(module, names)]
    assert bad == []


def test_the_scan_sees_private_imports():
    assert _private("skin_estimators.persistence", ["_load"]) == ["skin_estimators.persistence._load"]
    assert _private("skin_estimators.preprocessing._decode", ["describe_error"])
    assert _private("skin_estimators", ["_registry"]) == ["skin_estimators._registry"]
    assert _private("skin_estimators.inference", ["predict_files"]) == []


def test_every_documented_internal_name_exists_and_is_documented():
    for name in _internal.__all__:
        assert getattr(_internal, name) is not None
        assert f"``{name}``" in _internal.__doc__, name
    assert importlib.import_module("skin_estimators._internal").FolderLock.__name__ == "FolderLock"
