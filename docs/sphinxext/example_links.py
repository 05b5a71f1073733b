"""The ``:example:`` role: a link to a gallery example, or plain text while it is left out.

``:example:`plot_cross_validate_cnn``` links to ``auto_examples/plot_cross_validate_cnn``
with the example's title. An example left out of the gallery (its imports name something
this version does not have yet, see ``gallery_requirements.py``) would make a ``:doc:`` link
a warning, and the build treats warnings as errors; the role then renders the file name as
text instead.
"""

from docutils import nodes
from sphinx import addnodes


def _example_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    env = inliner.document.settings.env
    stem = text.strip().removesuffix(".py")
    if f"{stem}.py" in env.config.skin_skipped_examples:
        return [nodes.literal(rawtext, f"examples/{stem}.py")], []
    node = addnodes.pending_xref(
        rawtext,
        refdomain="std",
        reftype="doc",
        reftarget=f"/auto_examples/{stem}",
        refexplicit=False,
        refwarn=True,
        refdoc=env.docname,
    )
    node += nodes.inline(rawtext, stem, classes=["xref", "std", "std-doc"])
    return [node], []


def setup(app):
    app.add_config_value("skin_skipped_examples", [], "env")
    app.add_role("example", _example_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
