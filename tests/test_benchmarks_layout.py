"""The benchmark scripts use the public API and the documented internal module only, and no
study imports another: what they share lives in an underscore module (``studies/_splits.py``,
``archive/_frozen.py``, ``speed/_common.py``) or in the library. Read with :mod:`ast` and as
text, not by running them."""

import ast
import pathlib
import re

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.rglob("*.py")) if BENCHMARKS.is_dir() else []
#: The one internal module the scripts may import (documented in its docstring).
DOCUMENTED_INTERNAL = "skin_estimators._internal"

pytestmark = pytest.mark.skipif(not SCRIPTS, reason="no benchmarks/ folder beside the tests")


def _library_imports(tree):
    """(line, module, imported names) of every import of the library in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module.split(".")[0] == "skin_estimators":
                yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "skin_estimators":
                    yield node.lineno, alias.name, []


def _private(module, names):
    """The private parts of ``from module import names`` (the documented module allowed)."""
    if module == DOCUMENTED_INTERNAL:
        return []
    if any(part.startswith("_") for part in module.split(".")[1:]):
        return [module]
    return [f"{module}.{name}" for name in names
            if name.startswith("_") and f"{module}.{name}" != DOCUMENTED_INTERNAL]


def _trees(path):
    """The script's syntax tree, and those of the Python code it passes as string constants
    (``python -c CODE`` in a subprocess)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and "import" in node.value:
            try:
                yield ast.parse(node.value)
            except SyntaxError:
                pass


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(BENCHMARKS)))
def test_scripts_import_only_the_public_api_or_the_documented_internal_module(path):
    bad = [f"{line}: {p}" for tree in _trees(path) for line, module, names in
           _library_imports(tree) for p in _private(module, names)]
    assert bad == []


def test_the_issue_grep_finds_only_the_documented_internal_module():
    """``grep -rn "from skin_estimators\\.\\(_\\|.*\\._\\)" benchmarks/``, on every text file."""
    pattern = re.compile(r"from skin_estimators\.(_|.*\._)")
    bad = []
    for path in sorted(p for p in BENCHMARKS.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line) and f"from {DOCUMENTED_INTERNAL} import" not in line:
                bad.append(f"{path.relative_to(BENCHMARKS)}:{number}: {line.strip()}")
    assert bad == []


def test_no_script_imports_another():
    """Scripts are the files without a leading underscore; only shared modules are imported."""
    scripts = {p.stem for p in SCRIPTS if not p.stem.startswith("_")}
    bad = []
    for path in SCRIPTS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            bad += [f"{path.relative_to(BENCHMARKS)}:{node.lineno}: {n}" for n in names
                    if n.split(".")[0] in scripts]
    assert bad == []


def test_the_scan_sees_what_it_must():
    assert _private("skin_estimators.audit._cv", ["shortcut_forest"])
    assert _private("skin_estimators.preprocessing", ["_decode"])
    assert _private("skin_estimators", ["_internal"]) == []
    assert _private(DOCUMENTED_INTERNAL, ["shortcut_forest"]) == []
    code = ast.parse('CODE = "from skin_estimators.experiments._dask import x"\n')
    assert len(list(_library_imports(ast.parse(code.body[0].value.value)))) == 1


def test_results_are_split_into_speed_and_accuracy():
    results = BENCHMARKS / "results"
    assert sorted(p.name for p in results.iterdir()) == ["accuracy", "speed"]
    archive = BENCHMARKS / "archive"
    assert (archive / "README.md").is_file()
    for script in archive.glob("[!_]*.py"):
        assert script.name in (archive / "README.md").read_text(encoding="utf-8"), script.name
