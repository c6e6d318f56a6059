"""PAMI aggregation: each feature scores the model's output when that feature alone is kept."""

from __future__ import annotations

import torch

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector, per_feature_mean, require_single_rows, single_rows
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


@register("pami", paper="Shi et al. 2024 (PAMI: Partition input and Aggregate outputs)")
class PamiScores(Attributor):
    """Feature j scores ``y(only j kept)``; the map ``Σ_j y_j·m_j / Σ_j m_j`` is the projection through the
    soft masks. Needs a keep-only-j row per feature (sampler ``single`` with ``inverse: true``). The
    multi-partition, shifted-copy aggregation is the ``pami`` explainer. Deterministic rows: standard error 0."""

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        require_single_rows(coalitions.z, kept=True, who=self.name)

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        rows, features = single_rows(coalitions.z.cpu(), kept=True)
        m = coalitions.z.shape[1]
        def solve(y: torch.Tensor) -> Estimate:
            return Estimate(per_feature_mean(y, rows, features, m), torch.zeros(len(y), m))

        return ScoreCollector(segmentation, solve, coalitions)
