"""Sphinx configuration of the wideflow documentation.

Build:  python -m sphinx -W -b html docs docs/_build/html      (or: python -m wideflow docs)

The gallery (examples/*.py) is executed during the build by sphinx-gallery. The API reference is
generated at build time from the packages' ``__all__`` lists (see ``_api.py`` beside this file), so a
name added to the public API appears without editing the docs; a public name that ends up in no page
fails the build.
"""

from __future__ import annotations

import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
sys.path.insert(0, os.path.dirname(__file__))

import _api

import wideflow

project = "wideflow"
author = "wideflow developers"
copyright = "2026, wideflow developers"
release = wideflow.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "sg_execution_times.rst",
]

# In reStructuredText (the docstrings and the API pages) `name` is a link to a documented object when it
# resolves, plain text otherwise. Unresolved references in our own pages fail the build (see _api).
default_role = "py:obj"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["config.cache"]  # sphinx-gallery's scraper object is not picklable

autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": False}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "both"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False


html_theme = "furo"
html_title = f"wideflow {release}"
html_static_path = []
html_extra_path = []

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": True,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "matplotlib_animations": True,
    "image_scrapers": ("matplotlib", _api.GifScraper()),
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 0,
    "capture_repr": ("_repr_html_", "__repr__"),
}

warnings.filterwarnings("ignore", message="Matplotlib is currently using agg", category=UserWarning)


def setup(app):
    _api.setup(app)
