"""Sweeps: a base explainer spec and a ``sweep:`` mapping of dotted field paths to lists of values,
expanded as a Cartesian product into named explainer specs."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from perturbx.errors import ConfigError


def expand(name: str, spec: Any, where: str) -> dict[str, Any]:
    """``{name: spec}``, or one named spec per combination when ``spec`` holds a ``sweep:`` mapping.

    Each key of ``sweep`` is a dotted path (``segmenter.edges``) with a list of values, or several paths
    joined by ``+`` (``attributor+sampler``) with a list of value lists that move together. Combinations
    are the Cartesian product over keys, named ``name[edges=hard, attributor+sampler=rise+bernoulli]``
    (the last part of each path, or the whole path where two paths end alike).
    """
    if not isinstance(spec, dict) or "sweep" not in spec:
        return {name: spec}
    base = {key: value for key, value in spec.items() if key != "sweep"}
    sweep = spec["sweep"]
    if not isinstance(sweep, dict) or not sweep:
        raise ConfigError(f"{where}.sweep: expected a mapping of dotted field paths to lists of values, got {sweep!r}")
    axes = [_axis(base, key, values, f"{where}.sweep.{key}") for key, values in sweep.items()]
    labels = _labels([path for paths, _ in axes for path in paths])
    tags, start = [], 0
    for paths, values in axes:
        label = "+".join(labels[start : start + len(paths)])
        start += len(paths)
        shown = ["+".join(_short(v, params=False) for v in group) for group in values]
        if len(set(shown)) < len(shown):  # components told apart only by their parameters
            shown = ["+".join(_short(v, params=True) for v in group) for group in values]
        tags.append([f"{label}={text}" for text in shown])
    expanded = {}
    for combination in itertools.product(*(range(len(values)) for _, values in axes)):
        variant = copy.deepcopy(base)
        for (paths, values), k in zip(axes, combination):
            for path, value in zip(paths, values[k]):
                set_path(variant, path, copy.deepcopy(value), f"{where}.sweep.{path}")
        expanded[f"{name}[{', '.join(tag[k] for tag, k in zip(tags, combination))}]"] = variant
    return expanded


def _axis(base: dict[str, Any], key: Any, values: Any, where: str) -> tuple[list[str], list[list[Any]]]:
    """The paths of one sweep key and its values as one list per combination, checked against ``base``."""
    paths = key.split("+") if isinstance(key, str) else []
    if not paths or any(not path or any(not part for part in path.split(".")) for path in paths):
        raise ConfigError(f"{where}: {key!r} is not a dotted field path like 'segmenter.edges' (or paths joined "
                          "by '+')")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: expected a non-empty list of values, got {values!r}")
    if len(paths) == 1:
        values = [[value] for value in values]
    elif any(not isinstance(group, list) or len(group) != len(paths) for group in values):
        raise ConfigError(f"{where}: each value must be a list of {len(paths)} values, one per path")
    for path, value in zip(paths, values[0]):
        set_path(copy.deepcopy(base), path, value, where)
    return paths, values


def set_path(spec: dict[str, Any], path: str, value: Any, where: str) -> None:
    """Set ``spec[a][b]...[z] = value`` for ``path = "a.b...z"``; every part but the last must already be
    in the base (a component given by name becomes ``{name: ...}`` so its parameters can be set)."""
    parts = path.split(".")
    node = spec
    for depth, part in enumerate(parts[:-1]):
        if part not in node:
            known = ", ".join(sorted(node)) or "none"
            prefix = ".".join(parts[:depth]) or "the base spec"
            raise ConfigError(f"{where}: bad path, {prefix} has no {part!r} (keys: {known}); declare it in the base "
                              "spec first")
        child = node[part]
        if isinstance(child, str):
            child = node[part] = {"name": child}
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: bad path, {'.'.join(parts[: depth + 1])} is {child!r}, not a component "
                              "mapping with parameters")
        node = child
    node[parts[-1]] = value


def _labels(paths: list[str]) -> list[str]:
    """The last part of each path, or the whole path where it would be ambiguous."""
    last = [path.rsplit(".", 1)[-1] for path in paths]
    return [short if last.count(short) == 1 else path for short, path in zip(last, paths)]


def _short(value: Any, params: bool) -> str:
    """A value as it appears in a name: a component by its name (with its parameters as JSON if
    ``params``), scalars as written, the rest as JSON."""
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        rest = {key: item for key, item in value.items() if key != "name"}
        return value["name"] + (json.dumps(rest, separators=(",", ":")) if params and rest else "")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return str(value)
    return json.dumps(value, separators=(",", ":"))
