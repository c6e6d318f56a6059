"""YAML configs: a model and an explainer, validated with errors that name the offending field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from perturbx import registry
from perturbx.errors import ConfigError
from perturbx.explainer import Explainer
from perturbx.models.adapter import OutputMode


class ExplainConfig(BaseModel):
    """``model`` (a name for :func:`perturbx.models.load`), the ``output`` mode, and the ``explainer``
    spec: ``{name: pipeline, segmenter: ..., sampler: ..., ...}`` or any registered explainer."""

    model_config = ConfigDict(extra="forbid")

    model: str = "efficientnet_lite0"
    output: OutputMode = "probability"
    explainer: dict[str, Any] | str

    def build(self) -> Explainer:
        """The explainer this config declares."""
        return registry.build("explainer", self.explainer, where="explainer")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML mapping, with errors that name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config: no such file {str(path)!r}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"config {path}: invalid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_config(source: str | Path | dict[str, Any]) -> ExplainConfig:
    """Read and validate a config from a YAML file or a dict."""
    data = source if isinstance(source, dict) else read_yaml(source)
    where = "config" if isinstance(source, dict) else f"config {source}"
    try:
        config = ExplainConfig(**data)
    except ValidationError as err:
        raise ConfigError(registry.describe_validation(err, where)) from None
    try:
        config.build()
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    return config


def load(source: str | Path | dict[str, Any]) -> Explainer:
    """The explainer declared by a YAML file or dict (``px.load("configs/rise.yaml")``)."""
    return load_config(source).build()
