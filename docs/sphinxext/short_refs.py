"""Resolve cross-references that Sphinx leaves as plain text.

1. Short references to the package's own objects: docstrings say ``:func:`load_model``` or
   ``:data:`NORMALIZATION_PRESETS```, meaning the name next to them in the package. Sphinx
   looks for it in the module the docstring is rendered in, which for a re-exported object
   (documented as ``skin_estimators.ChannelNormalizer``, defined in
   ``skin_estimators.preprocessing._normalizer``) is not where the other name is documented.
   When exactly one documented ``skin_estimators`` object has that last name (or dotted
   tail), the reference links to it.
2. References to scikit-learn and imbalanced-learn (``:class:`~sklearn.pipeline.Pipeline```)
   link to their API pages. Intersphinx would download the projects' inventories at every
   build; the build is offline, and these two projects put every public object on a page at
   a predictable address, so the link is built from the name instead.
"""

import importlib
import inspect

from docutils import nodes
from sphinx.util.nodes import make_refnode

_PACKAGE = "skin_estimators."
_EXTERNAL = {
    "sklearn": "https://scikit-learn.org/stable/modules/generated/{page}.html",
    "imblearn": "https://imbalanced-learn.org/stable/references/generated/{page}.html",
}


def _own_object(app, env, node, contnode, target):
    objects = env.get_domain("py").objects
    tail = "." + target
    # A class is also registered under its defining module's name (an alias of the same
    # entry); count documented objects, not names.
    matches = {
        (objects[n].docname, objects[n].node_id)
        for n in objects
        if n.startswith(_PACKAGE) and (n == target or n.endswith(tail))
    }
    if len(matches) != 1:
        return None
    docname, node_id = matches.pop()
    return make_refnode(app.builder, node["refdoc"], docname, node_id, contnode, node_id)


def _page_of(target):
    """The public class or function whose page documents ``target``, or None."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if inspect.isclass(obj) or inspect.isroutine(obj):
                # A method or attribute of a class: it lives on the class's page.
                return ".".join(parts[: parts.index(attr)])
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return target if (inspect.isclass(obj) or inspect.isroutine(obj)) else None
    return None


def _external(node, contnode, target):
    url = _EXTERNAL.get(target.split(".")[0])
    if url is None:
        return None
    page = _page_of(target)
    if page is None:
        return None
    anchor = "" if page == target else f"#{target}"
    ref = nodes.reference("", "", internal=False, refuri=url.format(page=page) + anchor)
    ref.append(contnode)
    return ref


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    if not target:
        return None
    return _own_object(app, env, node, contnode, target) or _external(node, contnode, target)


def setup(app):
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
