"""YAML configs: a model and an explainer, validated with errors that name the offending field.

Configs ship inside the package (``perturbx/configs``) and load by name (``px.load("rise")``); paths work too.
YAML is read strictly: duplicate keys are errors, and aliases that would expand into a huge document are refused.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from perturbx import registry
from perturbx.errors import ConfigError, unknown_choice
from perturbx.explainer import Explainer
from perturbx.models.adapter import OutputMode

CONFIG_DIR = Path(str(files("perturbx") / "configs"))
MAX_YAML_BYTES = 1_000_000  # a config is a few hundred bytes; refuse to parse anything absurd
MAX_YAML_NODES = 100_000  # after expanding aliases (a "billion laughs" document expands to ~10^9)


class ExplainConfig(BaseModel):
    """``model`` (a name for :func:`perturbx.models.load`), the ``output`` mode, and the ``explainer``
    spec: ``{name: pipeline, segmenter: ..., sampler: ..., ...}`` or any registered explainer."""

    model_config = ConfigDict(extra="forbid")

    model: str = "efficientnet_lite0"
    output: OutputMode = "probability"
    explainer: dict[str, Any] | str

    def build(self) -> Explainer:
        """The explainer this config declares; given a bare model, it explains in this config's output mode."""
        explainer = registry.build("explainer", self.explainer, where="explainer")
        explainer.output_mode = self.output
        return explainer


def bundled_configs(folder: str = "") -> list[str]:
    """The names of the configs shipped with perturbx (``folder="experiments"`` for the experiments)."""
    return sorted(p.stem for p in (CONFIG_DIR / folder).glob("*.yaml"))


def find_config(name: str | Path, folder: str = "", what: str = "config") -> Path:
    """A config file: the path as given if it exists, else a bundled config by name (``rise``,
    ``rise.yaml`` or ``configs/rise.yaml``, looked up in ``perturbx/configs/<folder>``)."""
    path = Path(name)
    if path.is_file():
        return path
    if path.is_dir():
        raise ConfigError(f"{what}: {str(path)!r} is a directory, not a YAML file")
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    bundled = CONFIG_DIR / folder / f"{stem}.yaml"
    if bundled.is_file() and (len(path.parts) == 1 or path.parent.name in ("configs", folder or "configs")):
        return bundled
    if path.suffix or len(path.parts) > 1:
        raise ConfigError(f"{what}: no such file {str(name)!r} (bundled configs: {', '.join(bundled_configs(folder))})")
    raise unknown_choice(what, str(name), bundled_configs(folder))


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and documents whose aliases expand too far."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_YAML_NODES:
            raise yaml.constructor.ConstructorError(
                problem=f"aliases expand to more than {MAX_YAML_NODES} nodes", problem_mark=node.start_mark
            )
        return node


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """The number of nodes ``node`` stands for once every alias is written out (shared nodes counted once
    per use); a node that contains itself counts as infinitely large."""
    key = id(node)
    if key in memo:
        if memo[key] < 0:
            return MAX_YAML_NODES + 1
        return memo[key]
    memo[key] = -1
    size = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        size += _expanded_size(child, memo)
        if size > MAX_YAML_NODES:
            break
    memo[key] = size
    return size


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML mapping, with errors that name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config: no such file {str(path)!r}")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(f"config {path}: {path.stat().st_size} bytes is too large for a config")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config {path}: cannot read it as UTF-8 text ({type(err).__name__})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"config {path}: invalid YAML{where}: {problem}") from None
    except (ValueError, RecursionError) as err:  # e.g. an int of 5000 digits, lists nested 10^5 deep
        raise ConfigError(f"config {path}: unreadable YAML ({type(err).__name__}: {str(err)[:80]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_config(source: str | Path | dict[str, Any]) -> ExplainConfig:
    """Read and validate a config from a bundled name, a YAML file or a dict."""
    if not isinstance(source, dict):
        source = find_config(source)
    data = source if isinstance(source, dict) else read_yaml(source)
    where = "config" if isinstance(source, dict) else f"config {source}"
    try:
        config = ExplainConfig(**data)
    except ValidationError as err:
        raise ConfigError(registry.describe_validation(err, where, ExplainConfig.model_fields)) from None
    try:
        config.build()
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    return config


def load(source: str | Path | dict[str, Any]) -> Explainer:
    """The explainer declared by a bundled config (``px.load("rise")``), a YAML file or a dict; it applies the
    config's ``output:`` mode when given a bare model (an adapter you pass keeps its own)."""
    return load_config(source).build()
