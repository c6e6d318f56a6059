"""Sphinx configuration: Markdown pages (MyST), the API from docstrings (autodoc), and the catalogue and API
pages generated from the registry at every build."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import gen_catalogue  # noqa: E402

gen_catalogue.write(HERE / "generated")

project = "perturbx"
author = "perturbx contributors"
extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "build"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"exclude-members": "model_config, model_fields, model_computed_fields"}
html_theme = "alabaster"
html_title = "perturbx"
