"""The documentation builds with warnings as errors, and its generated catalogue lists every component."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import perturbx as px

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))

import gen_catalogue  # noqa: E402


def test_catalogue_lists_every_component_with_parameters_defaults_and_paper():
    text = gen_catalogue.catalogue_markdown()
    for kind, entries in px.catalogue().items():
        for name, cls in entries.items():
            assert f"### `{name}`" in text, f"{kind} {name} missing"
            if cls.paper:
                assert cls.paper.replace("|", "\\|") in text or cls.paper in text
    assert "| `p` | `0.5` |" in text          # bernoulli's parameter and its default
    assert "| `cells` | `7` |" in text        # the grid's


@pytest.mark.timeout(400)
def test_docs_build_with_warnings_as_errors(tmp_path: Path):
    from sphinx.cmd.build import build_main

    code = build_main(["-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
                              str(DOCS), str(tmp_path / "html")])
    assert code == 0, "sphinx-build reported warnings or errors (see the captured output)"
    html = (tmp_path / "html" / "generated" / "catalogue.html").read_text()
    assert "kernelshap" in html and (tmp_path / "html" / "generated" / "api.html").exists()
