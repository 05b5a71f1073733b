"""skin_estimators.exceptions holds every public error class; the old import paths still work."""

import ast
import importlib
import pathlib
import pkgutil
import sys

import pytest

import skin_estimators
from skin_estimators import exceptions

PACKAGE = pathlib.Path(skin_estimators.__file__).parent

# (module, name) pairs that code written against earlier versions imports.
OLD_PATHS = [
    ("skin_estimators", "ModelFileError"),
    ("skin_estimators", "ImageLoadError"),
    ("skin_estimators.persistence", "ModelFileError"),
    ("skin_estimators.persistence", "InconsistentModelError"),
    ("skin_estimators.persistence", "UnrepresentableError"),
    ("skin_estimators.preprocessing", "ImageLoadError"),
    ("skin_estimators.preprocessing._errors", "ImageLoadError"),
    ("skin_estimators.networks", "WeightsUnavailableError"),
    ("skin_estimators.networks._weights", "WeightsUnavailableError"),
    ("skin_estimators.experiments", "ConfigError"),
    ("skin_estimators.experiments._config", "ConfigError"),
    ("skin_estimators.experiments._lock", "FolderInUseError"),
    ("skin_estimators.utils._device", "DeviceUnavailableError"),
    ("skin_estimators._commands._common", "CommandError"),
    ("skin_estimators._persistence._codec", "InconsistentModelError"),
    ("skin_estimators._persistence._codec", "UnrepresentableError"),
]


@pytest.mark.parametrize("module, name", OLD_PATHS)
def test_old_import_paths_name_the_same_class(module, name):
    assert getattr(importlib.import_module(module), name) is getattr(exceptions, name)


def test_every_error_class_of_the_package_is_defined_in_exceptions():
    """No module but exceptions.py defines a public exception or warning class."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if any(b.endswith(("Error", "Exception", "Warning")) for b in bases):
                    found.append((path.relative_to(PACKAGE).as_posix(), node.name))
    # ParameterConstraintError subclasses scikit-learn's InvalidParameterError (so that
    # scikit-learn's own checks recognise it); exceptions.py imports the standard library only.
    internal = {("utils/_param_validation.py", "ParameterConstraintError")}
    outside = [f for f in found if f[0] != "exceptions.py" and f not in internal]
    assert outside == []
    assert sorted(n for p, n in found if p == "exceptions.py") == sorted(exceptions.__all__)


def _public_modules():
    """``skin_estimators`` and every importable module below it with no ``_`` in its path."""
    yield skin_estimators
    for info in pkgutil.walk_packages(skin_estimators.__path__, "skin_estimators.",
                                      onerror=lambda name: None):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        if info.name.split(".")[-1] in {"tests", "conftest"}:
            continue
        try:
            yield importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # an optional dependency this machine lacks
            if not (exc.name or "").startswith("skin_estimators"):
                continue
            raise


def test_every_public_error_is_a_skin_estimators_error():
    """Every exception class of the package that a public module offers (defined there or
    re-exported) derives from the one root, and still from a builtin error class."""
    from skin_estimators.utils._param_validation import ParameterConstraintError

    found = {ParameterConstraintError}
    for module in _public_modules():
        for name, obj in vars(module).items():
            if (isinstance(obj, type) and issubclass(obj, BaseException)
                    and not name.startswith("_")
                    and obj.__module__.startswith("skin_estimators")):
                found.add(obj)
    assert {getattr(exceptions, name) for name in exceptions.__all__} <= found
    not_rooted = sorted(c.__qualname__ for c in found
                        if not issubclass(c, exceptions.SkinEstimatorsError))
    assert not_rooted == []
    builtin = (ValueError, OSError, TypeError, RuntimeError)
    for cls in found - {exceptions.SkinEstimatorsError, exceptions.CommandError}:
        assert issubclass(cls, builtin), cls


@pytest.mark.parametrize("name, builtins", [
    ("ModelFileError", (ValueError,)), ("InconsistentModelError", (ValueError,)),
    ("UnrepresentableError", (ValueError,)), ("ImageLoadError", (ValueError,)),
    ("WeightsUnavailableError", (OSError,)), ("ConfigError", (ValueError,)),
    ("FolderInUseError", (OSError,)), ("DeviceUnavailableError", (ValueError, RuntimeError)),
    ("AdaptationError", (ValueError,)), ("UnreadableFile", (OSError,)),
    ("CommandError", (Exception,)),
])
def test_errors_keep_their_builtin_bases(name, builtins):
    cls = getattr(exceptions, name)
    assert issubclass(cls, exceptions.SkinEstimatorsError)
    assert all(issubclass(cls, b) for b in builtins)


def test_parameter_constraint_error_is_rooted_and_still_scikit_learns():
    from sklearn.utils._param_validation import InvalidParameterError

    from skin_estimators.utils._param_validation import ParameterConstraintError

    for base in (exceptions.SkinEstimatorsError, InvalidParameterError, ValueError, TypeError):
        assert issubclass(ParameterConstraintError, base)


def test_exceptions_module_imports_only_the_standard_library():
    tree = ast.parse((PACKAGE / "exceptions.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))
    assert imported <= set(sys.stdlib_module_names)


def test_image_load_error_still_pickles():
    import pickle

    err = exceptions.ImageLoadError([("a.jpg", "file not found")], n_total=2)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is exceptions.ImageLoadError and back.errors == err.errors
