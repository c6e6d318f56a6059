"""Localisation against ground-truth regions: pointing games, relevance mass and rank accuracy."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from perturbx import registry
from perturbx.metrics.base import Metric, MetricContext, Score, check_regions, target_label
from perturbx.models.adapter import ModelAdapter
from perturbx.targets import Targets

Relevance = Literal["positive", "absolute", "signed"]


class _Localisation(Metric):
    """A score per image from its map ``[H,W]`` and its region ``[H,W]`` bool; no model queries."""

    requires: ClassVar[tuple[str, ...]] = ("regions",)

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        regions = check_regions(context.regions, x).cpu()
        protocol = self.protocol() | {"n_queries": 0}
        return [Score(b, self.name, self.value(maps[b, 0].double().cpu(), regions[b]),
                      protocol | {"class": target_label(targets, b)}) for b in range(x.shape[0])]

    def value(self, saliency: torch.Tensor, region: torch.Tensor) -> float:
        """The score of one map ``[H,W]`` against its ground-truth region ``[H,W]``."""
        raise NotImplementedError


def relevance(saliency: torch.Tensor, kind: Relevance) -> torch.Tensor:
    """The positive part, the magnitude, or the map as it is."""
    return {"positive": saliency.clamp_min(0), "absolute": saliency.abs(), "signed": saliency}[kind]


def mass_share(saliency: torch.Tensor, inside: torch.Tensor) -> float:
    """Σ inside / Σ all (NaN when the map has no mass)."""
    total = saliency.sum()
    return float(saliency[inside].sum() / total) if total != 0 else float("nan")


def bounding_box(region: torch.Tensor) -> torch.Tensor:
    """The filled axis-aligned box enclosing a mask."""
    rows, cols = region.any(1).nonzero().flatten(), region.any(0).nonzero().flatten()
    box = torch.zeros_like(region)
    box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
    return box


@registry.register("pointing_game", paper="Zhang et al. 2018 (excitation backprop), 15 px tolerance")
class PointingGame(_Localisation):
    """1 if a pixel where the map is maximal lies within ``tolerance`` px (Euclidean) of the region, else 0."""

    tolerance: float = Field(15.0, ge=0.0, description="hit distance in pixels (0: inside the region)")

    def value(self, saliency: torch.Tensor, region: torch.Tensor) -> float:
        peaks = (saliency == saliency.max()).nonzero().double()
        inside = region.nonzero().double()
        return float(torch.cdist(peaks, inside).min() <= self.tolerance + 1e-9)


@registry.register("energy_pointing_game", paper="Wang et al. 2020 (Score-CAM), energy-based pointing game")
class EnergyPointingGame(_Localisation):
    """Share of the map's mass inside the bounding box of the region."""

    relevance: Relevance = Field("positive", description="mass of the positive part, the magnitude, or signed")

    def value(self, saliency: torch.Tensor, region: torch.Tensor) -> float:
        return mass_share(relevance(saliency, self.relevance), bounding_box(region))


@registry.register("relevance_mass_accuracy", paper="Arras et al. 2022 (CLEVR-XAI), relevance mass accuracy")
class RelevanceMassAccuracy(_Localisation):
    """Share of the map's mass inside the region mask itself."""

    relevance: Relevance = Field("positive", description="mass of the positive part, the magnitude, or signed")

    def value(self, saliency: torch.Tensor, region: torch.Tensor) -> float:
        return mass_share(relevance(saliency, self.relevance), region)


@registry.register("relevance_rank_accuracy", paper="Arras et al. 2022 (CLEVR-XAI), relevance rank accuracy")
class RelevanceRankAccuracy(_Localisation):
    """``|top-K pixels ∩ region| / K`` with ``K = |region|``; ties in the map go to the lower row-major index."""

    def value(self, saliency: torch.Tensor, region: torch.Tensor) -> float:
        k = int(region.sum())
        top = torch.argsort(-saliency.flatten(), stable=True)[:k]
        return float(region.flatten()[top].sum()) / k
