"""The documentation's contract, checked in the test run (the Sphinx build comes later in CI).

- every public class and function has a numpydoc ``Examples`` section with at least one
  line that runs (pytest's ``--doctest-modules`` runs them);
- the API reference lists every public name;
- every example in ``examples/`` imports only names the package has, and is a
  sphinx-gallery script (a title in its docstring, ``# %%`` cells, the full-size settings).
"""

import ast
import inspect
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "sphinxext"))

api_reference = pytest.importorskip("api_reference")
gallery_requirements = pytest.importorskip("gallery_requirements")

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def _public_objects():
    _, sections = api_reference.collect("skin_estimators", log=lambda message: None)
    for entries in sections.values():
        for (_, kind), full_name in entries:
            if kind != "Constants":
                yield full_name


@pytest.mark.parametrize("full_name", sorted(_public_objects()))
def test_public_docstring_has_runnable_examples(full_name):
    module_name, name = full_name.rsplit(".", 1)
    obj = getattr(sys.modules[module_name], name)
    doc = inspect.getdoc(obj) or ""
    match = re.search(r"^Examples\n-{3,}\n(.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", doc, re.S | re.M)
    assert match, f"{full_name}: the docstring has no 'Examples' section"
    statements = [line for line in match.group(1).splitlines() if line.lstrip().startswith(">>>")]
    assert any("+SKIP" not in line for line in statements), (
        f"{full_name}: every line of its Examples section is skipped; add one that runs "
        "offline on tiny data"
    )


def test_api_reference_lists_every_public_name():
    import skin_estimators

    text = api_reference.render("skin_estimators", log=lambda message: None)
    listed = set(re.findall(r"^   ~(\S+)$", text, re.M))
    for name in skin_estimators.__all__:
        if not name.startswith("__"):
            assert f"skin_estimators.{name}" in listed, name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_imports_exist(path):
    assert gallery_requirements.missing_names(path) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_a_gallery_script(path):
    text = path.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(text)) or ""
    lines = doc.strip().splitlines()
    assert len(lines) >= 2 and set(lines[1]) == {"="} and len(lines[1]) >= len(lines[0]), (
        f"{path.name}: the docstring must start with a title underlined with '='"
    )
    assert "# %%" in text, f"{path.name}: no '# %%' cells"
    assert "full-size run" in doc, f"{path.name}: say what to change for the full-size run"
    assert "pretrained=True" not in text.split('"""', 2)[-1], (
        f"{path.name}: examples run offline (pretrained=False)"
    )
