"""Sphinx configuration for skin-estimators.

Build (CI runs exactly this, warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build is offline: no intersphinx (it would fetch inventories) and nothing fetched by the
theme. The examples in ``examples/`` are executed by sphinx-gallery; they read the study's
images through ``fetch_skin3()``, i.e. ``$SKIN_ESTIMATORS_DATA``.
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the checkout being built, not whichever copy of the package is installed.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "sphinxext"))

# The examples find the images here; fall back to the shared folder beside the checkout.
_shared_data = ROOT.parent / "shared" / "data"
if "SKIN_ESTIMATORS_DATA" not in os.environ and _shared_data.is_dir():
    os.environ["SKIN_ESTIMATORS_DATA"] = str(_shared_data)
os.environ.setdefault("MPLBACKEND", "Agg")

import skorch  # noqa: E402
import torch  # noqa: E402
from api_reference import write_api_rst  # noqa: E402
from gallery_requirements import unavailable_examples  # noqa: E402
from sphinx.util import logging  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import skin_estimators  # noqa: E402

_logger = logging.getLogger("skin_estimators.docs")

# The examples run inside this process. Their models are small (48x48 images), where one
# thread is about as fast as two; on a busy machine, threads that wait for each other make
# PyTorch and the BLAS behind scikit-learn ten times slower or worse (measured here).
_threads = int(os.environ.get("SKIN_DOCS_THREADS", "1"))
torch.set_num_threads(_threads)
threadpool_limits(_threads)

# -- Project -------------------------------------------------------------------------------
project = "skin-estimators"
author = "the skin-estimators developers"
copyright = "the skin-estimators developers; BSD-3-Clause"
release = skin_estimators.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "data_docstrings",
    "example_links",
    "short_refs",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/backreferences", "**.ipynb_checkpoints", "sphinxext"]
root_doc = "index"
default_role = "literal"
nitpicky = False

# The API page lists every name in the package's __all__ lists, so it is written anew each build.
write_api_rst(DOCS / "api.rst", log=_logger.info)

# -- autodoc / autosummary / numpydoc ------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "groupwise"
autodoc_inherit_docstrings = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# The scikit-learn methods a user calls; other inherited members (skorch's many helpers,
# torch.nn.Module's, scikit-learn's metadata-routing setters) are documented upstream.
_SKLEARN_API = {
    "fit",
    "partial_fit",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "fit_transform",
    "inverse_transform",
    "fit_resample",
    "score",
    "get_params",
    "set_params",
    "get_feature_names_out",
}


# Hooks the estimators override to plug into skorch and torch; not something a user calls.
_FRAMEWORK_MEMBERS = set(dir(skorch.NeuralNet)) | set(dir(torch.nn.Module))


def _defined_in_package(obj):
    target = obj.fget if isinstance(obj, property) else obj
    module = getattr(target, "__module__", None) or ""
    return module.split(".")[0] == "skin_estimators"


def _skip_member(app, what, name, obj, skip, options):
    if what != "class" or skip:
        return skip
    if not (callable(obj) or isinstance(obj, property)) or isinstance(obj, type):
        return True  # class-level data (skorch's bookkeeping lists, descriptors)
    if name in _SKLEARN_API:
        return None
    if name in _FRAMEWORK_MEMBERS:
        return True  # an override of a skorch or torch hook (initialize_module, forward, ...)
    if _defined_in_package(obj):
        return None  # let autodoc decide (private names and members without docs are skipped)
    return True


# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skin-estimators {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": []}
html_show_sourcelink = False

# -- sphinx-gallery ------------------------------------------------------------------------
_examples = ROOT / "examples"
_skipped = unavailable_examples(_examples, log=_logger.info)
skin_skipped_examples = _skipped  # the :example: role shows these as text, not links
sphinx_gallery_conf = {
    "examples_dirs": str(_examples),
    "gallery_dirs": str(DOCS / "auto_examples"),
    # Every example runs during the build (they are written to take well under a minute).
    "filename_pattern": r".*\.py$",
    # Examples that need names this version does not have yet (see gallery_requirements.py).
    "ignore_pattern": "|".join([r"__init__\.py"] + [re.escape(n) + "$" for n in _skipped]),
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skin_estimators",),
    "reference_url": {"skin_estimators": None},
    "backreferences_dir": str(DOCS / "generated" / "backreferences"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
}


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
