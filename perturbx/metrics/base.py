"""The metric contract: validated maps in, scores with the protocol that produced them out."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from perturbx.errors import PerturbxError
from perturbx.explainer import Explainer
from perturbx.images import check_images
from perturbx.models.adapter import ModelAdapter, OutputMode, as_adapter
from perturbx.registry import Component
from perturbx.targets import Targets, TargetSpec, check_target, resolve_targets


@dataclass
class Curve:
    """A metric's curve for one image: ``y`` at each point ``x`` (``x`` described by ``axis``)."""

    x: torch.Tensor
    y: torch.Tensor
    axis: str


@dataclass
class Score:
    """One score of one image, with every protocol choice that produced it (flat, table-ready)."""

    image: int
    metric: str
    value: float
    protocol: dict[str, Any] = field(default_factory=dict)
    curve: Curve | None = None


@dataclass(frozen=True)
class MetricContext:
    """What some metrics need beyond images and maps: ground-truth ``regions [B,H,W]`` (localisation) or
    an ``explainer`` that can explain again (sanity checks, robustness)."""

    regions: torch.Tensor | None = None
    explainer: Explainer | None = None


class Metric(Component):
    """Base of every metric. :meth:`evaluate` validates, wraps the model, resolves targets and calls
    :meth:`score`; the evaluator calls :meth:`check` and :meth:`score` directly inside one session.

    ``requires`` names the :class:`MetricContext` fields a metric needs (``regions``, ``explainer``).
    """

    kind: ClassVar[str] = "metric"
    requires: ClassVar[tuple[str, ...]] = ()

    def evaluate(
        self,
        model: nn.Module | ModelAdapter,
        x: torch.Tensor,
        maps: torch.Tensor,
        target: TargetSpec = None,
        *,
        regions: torch.Tensor | None = None,
        explainer: Explainer | None = None,
        batch_size: int | None = None,
        progress: bool | None = None,
    ) -> list[Score]:
        """Score ``maps [B,1,H,W]`` of images ``x [B,C,H,W]`` for ``target`` (default: the predicted class);
        ``batch_size`` and ``progress`` override the adapter's for this call."""
        x = check_images(x)
        maps = check_maps(maps, x)
        check_target(target, x.shape[0])
        context = MetricContext(regions, explainer)
        self.check(x, maps, context)
        adapter = as_adapter(model)
        with adapter.options(batch_size=batch_size, progress=progress), adapter.session(tuple(x.shape[1:])):
            targets = resolve_targets(target, adapter(x))
            return self.score(adapter, x, maps, targets, context)

    def check(self, x: torch.Tensor, maps: torch.Tensor | None, context: MetricContext) -> None:
        """Validation of the context this metric needs, before any model query."""
        for name in self.requires:
            if getattr(context, name) is None:
                raise PerturbxError(f"{self.name}: needs {name}=... ({_NEEDS[name]})")
        if "regions" in self.requires:
            check_regions(context.regions, x)
        if "explainer" in self.requires and not isinstance(context.explainer, Explainer):
            raise PerturbxError(f"{self.name}: explainer must be an explainer object (px.build('explainer', ...)), "
                                f"got {type(context.explainer).__name__}")

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        """Scores of every image for the resolved targets (called inside the adapter's session)."""
        raise NotImplementedError

    def protocol(self, adapter: ModelAdapter | None = None) -> dict[str, Any]:
        """The metric's parameters as flat columns (components and lists as JSON), plus the output mode."""
        columns = {}
        for key, value in self.spec().items():
            if key == "name":
                continue
            columns[key] = json.dumps(value) if isinstance(value, (dict, list, tuple)) else value
        if adapter is not None:
            columns["output"] = adapter.output
        return columns


class ModelMetric(Metric):
    """A metric that queries the model, in a chosen output mode, in batches of the adapter's plan."""

    output: OutputMode | None = Field(None, description="score the model in this mode; None keeps the adapter's")

    def scorer(self, adapter: ModelAdapter) -> ModelAdapter:
        """The adapter in this metric's output mode (a shallow copy sharing the model and its plan)."""
        if self.output is None or self.output == adapter.output:
            return adapter
        clone = copy.copy(adapter)
        clone.output = self.output
        return clone

    def chunk(self, adapter: ModelAdapter, x: torch.Tensor) -> int:
        """Images per model call for inputs shaped like ``x`` (the format of that plan is applied)."""
        with adapter.session():
            return adapter.plan(tuple(x.shape[1:]))[0]


_NEEDS = {
    "regions": "ground-truth masks, a bool tensor [B,H,W] or [B,1,H,W]",
    "explainer": "an explainer object that can explain again; precomputed maps cannot",
}


def target_label(targets: Targets, b: int) -> int | str:
    """The explained class of image ``b``, or ``"callable"`` for callable targets."""
    return int(targets.classes[b]) if targets.classes is not None else "callable"


def check_maps(maps: object, x: torch.Tensor, name: str = "maps") -> torch.Tensor:
    """Return ``maps`` if it is a finite float tensor ``[B,1,H,W]`` matching ``x [B,C,H,W]``, else raise."""
    if not isinstance(maps, torch.Tensor):
        raise PerturbxError(f"{name}: expected a torch.Tensor [B,1,H,W], got {type(maps).__name__}")
    expected = (x.shape[0], 1, *x.shape[2:])
    if tuple(maps.shape) != expected:
        hint = " (add the channel axis with maps.unsqueeze(1))" if maps.dim() == 3 else ""
        raise PerturbxError(f"{name}: expected shape {expected} to match x, got {tuple(maps.shape)}{hint}")
    if not maps.is_floating_point():
        raise PerturbxError(f"{name}: expected a floating-point tensor, got dtype {maps.dtype}")
    if not torch.isfinite(maps).all():
        raise PerturbxError(f"{name}: contains NaN or infinite values")
    return maps.detach().float()


def check_regions(regions: object, x: torch.Tensor) -> torch.Tensor:
    """Ground-truth masks as bool ``[B,H,W]``; each image needs at least one pixel inside."""
    if not isinstance(regions, torch.Tensor):
        raise PerturbxError(f"regions: expected a bool tensor [B,H,W], got {type(regions).__name__}")
    if regions.dim() == 4 and regions.shape[1] == 1:
        regions = regions[:, 0]
    expected = (x.shape[0], *x.shape[2:])
    if tuple(regions.shape) != expected:
        raise PerturbxError(f"regions: expected shape {expected} (or with a channel axis of 1), got "
                            f"{tuple(regions.shape)}")
    if regions.is_floating_point() and not ((regions == 0) | (regions == 1)).all():
        raise PerturbxError("regions: expected a mask of 0/1 or bool values")
    regions = regions.bool()
    empty = (~regions.flatten(1).any(1)).nonzero().flatten().tolist()
    if empty:
        raise PerturbxError(f"regions: the masks of images {empty} are empty")
    return regions
