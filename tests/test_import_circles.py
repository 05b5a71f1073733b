"""No import circle inside ``skin_estimators``.

The import graph is read from the source with :mod:`ast`, not by importing: every ``import``
and ``from ... import`` counts, at module level, inside functions and under ``if
TYPE_CHECKING`` alike, and importing a name from a package counts as importing the module the
package's ``__init__`` (eagerly or through its lazy table) takes it from. A circle through an
import inside a function still ties two layers together, so it fails this test as one at the
top would.
"""

import ast
import pathlib

import pytest

PACKAGE = "skin_estimators"
ROOT = pathlib.Path(__file__).resolve().parents[1] / PACKAGE


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(module, level, current, is_package):
    if level == 0:
        return module
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _lazy_table(tree, current, is_package):
    """``name -> module`` of a package ``__init__``'s lazy table (a dict of relative or absolute
    module names), so ``from package import Name`` resolves to the module that defines it."""
    table = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                        and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                    target = value.value
                    if target.startswith("."):
                        level = len(target) - len(target.lstrip("."))
                        target = _resolve(target.lstrip("."), level, current, is_package)
                    if target.startswith(PACKAGE):
                        table[key.value] = target
    return table


def import_graph():
    """``module -> set of modules of the package it imports`` (edges through ``__init__``
    re-exports point at the defining module as well as at the package)."""
    modules = _modules()
    trees = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in modules.items()}
    exports = {}
    for name, tree in trees.items():
        if modules[name].name != "__init__.py":
            continue
        table = _lazy_table(tree, name, True)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(node.module, node.level, name, True)
                for alias in node.names:
                    table.setdefault(alias.asname or alias.name, source)
        exports[name] = table

    graph = {name: set() for name in modules}
    for name, tree in trees.items():
        is_package = modules[name].name == "__init__.py"
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(node.module, node.level, name, is_package)
                targets = [source]
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    if sub in modules:
                        targets.append(sub)
                    elif source in exports and alias.name in exports[source]:
                        targets.append(exports[source][alias.name])
            for target in targets:
                # a name not defined as a module is an attribute of the nearest module above
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target.startswith(PACKAGE) and target != name:
                    graph[name].add(target)
    return graph


def find_circles(graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def _edges_inside(graph, component):
    members = set(component)
    return sorted(f"{a} -> {b}" for a in component for b in graph[a] if b in members)


def test_the_package_has_no_import_circle():
    graph = import_graph()
    circles = find_circles(graph)
    message = "\n\n".join(
        f"circle of {len(c)} modules:\n  " + "\n  ".join(_edges_inside(graph, c))
        for c in circles
    )
    assert not circles, message


def test_the_detector_finds_a_circle_through_an_import_inside_a_function(tmp_path):
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert find_circles(graph) == [["p.a", "p.b", "p.c"]]
    source = "def f():\n    from .b import g\n"
    tree = ast.parse(source)
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert _resolve(node.module, node.level, "skin_estimators.x.a", False) == "skin_estimators.x.b"


@pytest.mark.parametrize("module, level, current, package, expected", [
    ("y", 1, "skin_estimators.x.a", False, "skin_estimators.x.y"),
    ("y", 2, "skin_estimators.x.a", False, "skin_estimators.y"),
    (None, 1, "skin_estimators.x", True, "skin_estimators.x"),
    ("y", 1, "skin_estimators.x", True, "skin_estimators.x.y"),
])
def test_relative_imports_resolve(module, level, current, package, expected):
    assert _resolve(module, level, current, package) == expected
