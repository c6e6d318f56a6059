"""Generate the docs pages that come from the code: the component catalogue (from the registry) and the API
reference (one autodoc section per module). Run by ``docs/conf.py`` at every build; also ``python
docs/gen_catalogue.py OUTDIR``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any

import perturbx
from perturbx import registry

KIND_TITLES = {
    "segmenter": "Segmenters",
    "view": "Views (copies of the image a pipeline explains, e.g. PAMI's shifts)",
    "sampler": "Samplers",
    "substrate": "Substrates",
    "attributor": "Attributors",
    "explainer": "Explainers (pipelines, gradient and CAM methods)",
    "metric": "Metrics",
}


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def default_text(info: Any) -> str:
    """A field's default as YAML would spell it (components by their spec)."""
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, registry.Component):
        value = value.spec()
    text = repr(value)
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"


def constraints(info: Any) -> str:
    """Pydantic constraints on a field (``ge``, ``le``, lengths ...), comma-separated."""
    parts = []
    for item in info.metadata:
        for attr in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            if getattr(item, attr, None) is not None:
                parts.append(f"{attr} {getattr(item, attr)}")
    return ", ".join(parts)


def catalogue_markdown() -> str:
    """Every registered component of every kind, with its parameters, defaults and paper."""
    lines = [
        "# Component catalogue",
        "",
        "Generated from the registry (`perturbx.catalogue()`) at every docs build, so it lists exactly what "
        "`perturbx list` shows. Every parameter below can be given in Python (`px.build(kind, {...})`) or YAML "
        "(`{name: ..., param: value}`).",
        "",
    ]
    for kind, entries in registry.catalogue().items():
        lines += [f"## {KIND_TITLES[kind]}", ""]
        for name, cls in entries.items():
            doc = (cls.__doc__ or "").strip()
            summary = " ".join(doc.split("\n\n")[0].split()) if doc else ""
            lines += [f"### `{name}`", "", f"`{cls.__module__}.{cls.__qualname__}` — {summary}", ""]
            if cls.paper:
                lines += [f"Paper: {cls.paper}", ""]
            fields = cls.model_fields
            if fields:
                lines += ["| parameter | default | constraints | description |", "| --- | --- | --- | --- |"]
                for field, info in fields.items():
                    lines.append(f"| `{field}` | {cell(default_text(info))} | {cell(constraints(info))} | "
                                 f"{cell(info.description or '')} |")
            else:
                lines.append("No parameters.")
            lines.append("")
    return "\n".join(lines)


def modules() -> list[str]:
    """Public modules of the package (no leading underscore anywhere in the dotted name), sorted."""
    found = ["perturbx"]
    for info in pkgutil.walk_packages(perturbx.__path__, "perturbx."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            importlib.import_module(info.name)
            found.append(info.name)
    return sorted(found)


def api_markdown() -> str:
    """One autodoc section per public module, members taken from the docstrings."""
    lines = ["# API reference", "", "Generated from the docstrings of every public module.", ""]
    for name in modules():
        lines += [f"## `{name}`", "", "```{eval-rst}", f".. automodule:: {name}", "   :members:",
                  "   :show-inheritance:", "   :ignore-module-all:", "```", ""]
    return "\n".join(lines)


def write(out: Path) -> list[Path]:
    """Write ``catalogue.md`` and ``api.md`` into ``out`` (only when their text changed)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for file, text in (("catalogue.md", catalogue_markdown()), ("api.md", api_markdown())):
        path = out / file
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "generated")):
        print(path)
