"""One evaluator for every explainer: pipelines, wrappers, registry specs or precomputed maps."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from perturbx import registry
from perturbx.errors import PerturbxError
from perturbx.explainer import Explainer
from perturbx.images import check_images
from perturbx.metrics.base import Metric, MetricContext, check_maps
from perturbx.metrics.results import Results
from perturbx.models.adapter import ModelAdapter, as_adapter
from perturbx.targets import TargetSpec, check_target, resolve_targets

Source = Explainer | torch.Tensor
T = TypeVar("T")


def evaluate(
    model: nn.Module | ModelAdapter,
    images: torch.Tensor,
    explainers: Any,
    metrics: Any,
    target: TargetSpec = None,
    regions: torch.Tensor | None = None,
    *,
    batch_size: int | None = None,
    progress: bool | None = None,
) -> Results:
    """Score every explainer on ``images [B,C,H,W]`` with every metric.

    ``explainers``: one explainer or registry spec, a list of them, or a dict name -> explainer, spec
    or precomputed maps ``[B,1,H,W]``. ``metrics``: one metric or spec, or a list of them. ``target``
    (default: the predicted class) is resolved once, so every explainer explains and every metric
    scores the same class. ``regions`` are ground-truth masks ``[B,H,W]`` for localisation metrics.
    Several configurations of one metric are told apart as ``name``, ``name#2``... in rows and curves.
    ``batch_size`` and ``progress`` override the adapter's. Everything is validated before the first
    model query; the model is restored on return.
    """
    x = check_images(images, "images")
    check_target(target, x.shape[0])
    sources = _sources(explainers, x)
    built = _metrics(metrics)
    adapter = as_adapter(model)
    for name, source in sources.items():
        for metric in built.values():
            if "explainer" in metric.requires and not isinstance(source, Explainer):
                raise PerturbxError(f"metrics: {metric.name} explains again, so it cannot score the precomputed "
                                    f"maps {name!r}; drop it or pass an explainer")
            context = MetricContext(regions, source if isinstance(source, Explainer) else None)
            metric.check(x, source if isinstance(source, torch.Tensor) else None, context)
        if isinstance(source, Explainer):
            source.check(adapter, x)
    results = Results()
    with adapter.options(batch_size=batch_size, progress=progress), adapter.session(tuple(x.shape[1:])):
        targets = resolve_targets(target, adapter(x))
        explain_as = targets.classes if targets.classes is not None else targets.fns
        for name, source in sources.items():
            maps, cost = _explain(source, adapter, x, explain_as)
            maps = check_maps(maps, x, f"explainers[{name!r}] maps")
            context = MetricContext(regions, source if isinstance(source, Explainer) else None)
            for label, metric in built.items():
                for score in metric.score(adapter, x, maps, targets, context):
                    key = label if score.metric == metric.name else f"{score.metric}{label[len(metric.name):]}"
                    results.rows.append({"image": score.image, "explainer": name, "metric": key,
                                         "value": score.value, **score.protocol, **cost(score.image)})
                    if score.curve is not None:
                        results.curves[(score.image, name, key)] = score.curve
    return results


def _explain(
    source: Source, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec
) -> tuple[torch.Tensor, Callable[[int], dict[str, Any]]]:
    """The maps of one explainer and, per image, its cost (queries and seconds) and, for sampled maps, the
    achieved relative error and whether a stopping rule was met (None where unknown or for given maps)."""
    if isinstance(source, torch.Tensor):
        empty = dict.fromkeys(("explain_queries", "explain_seconds", "explain_error", "explain_converged"))
        return source, lambda b: empty
    start = time.perf_counter()
    exp = source.explain(adapter, x, target)
    seconds = time.perf_counter() - start

    def cost(b: int) -> dict[str, Any]:
        return {
            "explain_queries": int(exp.queries[b]) if exp.queries is not None else exp.n_queries / x.shape[0],
            "explain_seconds": seconds / x.shape[0],
            "explain_error": float(exp.error[b]) if exp.error is not None else None,
            "explain_converged": bool(exp.converged[b]) if exp.converged is not None else None,
        }

    return exp.maps, cost


def _sources(explainers: Any, x: torch.Tensor) -> dict[str, Source]:
    """Name every explainer: dict keys, else the registry name (numbered when repeated)."""
    spec = isinstance(explainers, Mapping) and isinstance(explainers.get("name"), str)
    if isinstance(explainers, Mapping) and not spec:
        items = list(explainers.items())
    elif isinstance(explainers, Sequence) and not isinstance(explainers, str):
        items = [(None, e) for e in explainers]
    else:
        items = [(None, explainers)]
    if not items:
        raise PerturbxError("explainers: expected at least one explainer, spec or map tensor")
    named: list[tuple[str, Source]] = []
    for key, value in items:
        if isinstance(value, torch.Tensor):
            if key is None:
                raise PerturbxError("explainers: precomputed maps need a name; pass a dict {name: maps}")
            source: Source = check_maps(value, x, f"explainers[{key!r}]")
        else:
            where = f"explainers[{key!r}]" if key is not None else "explainers"
            source = registry.build("explainer", value, where=where)
        named.append((str(key) if key is not None else source.name, source))
    return _numbered(named)


def _metrics(metrics: Any) -> dict[str, Metric]:
    """Build every metric from an object, a name or a ``{name: ..., **params}`` mapping; a name given
    again is numbered (``deletion#2``) so each configuration keeps its own rows and curves."""
    items = metrics if isinstance(metrics, Sequence) and not isinstance(metrics, str) else [metrics]
    if not items:
        raise PerturbxError("metrics: expected at least one metric")
    built = (registry.build("metric", m, where=f"metrics[{i}]") for i, m in enumerate(items))
    return _numbered((metric.name, metric) for metric in built)


def _numbered(pairs: Iterable[tuple[str, T]]) -> dict[str, T]:
    """Values by name, the second and later of one name numbered ``name#2``, ``name#3``..."""
    named: dict[str, T] = {}
    for name, value in pairs:
        unique, n = name, 2
        while unique in named:
            unique, n = f"{name}#{n}", n + 1
        named[unique] = value
    return named
