"""PAMI aggregation: each feature scores the model's output when that feature alone is kept."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attribution, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector, per_feature_mean, require_single_rows, single_rows
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


def normalise(maps: torch.Tensor, delta: float) -> torch.Tensor:
    """PAMI's normalised map ``(X − min)/(max − min + delta)``, per map over the last two dimensions."""
    low = maps.amin(dim=(-2, -1), keepdim=True)
    high = maps.amax(dim=(-2, -1), keepdim=True)
    return (maps - low) / (high - low + delta)


@register("pami", paper="Shi et al. 2024 (PAMI: Partition input and Aggregate outputs)")
class PamiScores(Attributor):
    """Feature j scores ``p_j = y(only j kept)`` (needs sampler ``single`` with ``inverse: true``).
    Over every partition and view the map is ``Σ p_j·m_j / Σ m_j`` (a mean output per pixel, kept in
    ``meta["average"]``); the explanation is its min-max normalisation ``(X − min)/(max − min + delta)``.
    Deterministic rows: standard error 0."""

    delta: float = Field(1e-8, gt=0.0, description="added to max − min in the normalised map")

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        require_single_rows(coalitions.z, kept=True, who=self.name)

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        rows, features = single_rows(coalitions.z.cpu(), kept=True)
        m = coalitions.z.shape[1]

        def solve(y: torch.Tensor) -> Estimate:  # deterministic rows: nothing to estimate
            return Estimate(per_feature_mean(y, rows, features, m), torch.zeros(len(y), m, dtype=torch.float64))

        return _Weighted(segmentation, solve, coalitions)

    def finish(self, pixels: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        return normalise(pixels, self.delta), {"average": pixels}


class _Weighted(ScoreCollector):
    """Feature scores projected through the masks in float64, weighted by the masks' coverage when
    partitions combine, so the combined map is ``Σ p·m / Σ m`` over every partition and view; standard
    errors are 0 (each score is one deterministic query)."""

    def result(self) -> Attribution:
        features = self.estimate()[0].float()
        masks = self.segmentation.masks.double()
        numerator = torch.einsum("m,mhw->hw", features.to(masks), masks)
        coverage = masks.sum(0)
        exact = torch.zeros(numerator.shape, dtype=torch.float32, device=numerator.device)
        return Attribution(features, numerator / coverage.clamp_min(1e-12), coverage, torch.zeros_like(features), exact)
