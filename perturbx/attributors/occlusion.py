"""Occlusion (leave-one-out): how much the score drops when one feature alone is removed."""

from __future__ import annotations

import torch

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector, per_feature_mean, require_single_rows, single_rows
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


@register("occlusion", paper="Zeiler & Fergus, ECCV 2014 (occlusion); Captum FeatureAblation")
class Occlusion(Attributor):
    """``y(x) − y(x without feature j)`` from the rows that remove feature j only (averaged if repeated).
    Needs such a row for every feature (sampler ``single``). Deterministic rows: standard error 0."""

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        require_single_rows(coalitions.z, kept=False, who=self.name)

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        rows, features = single_rows(coalitions.z.cpu(), kept=False)
        m, y_full = coalitions.z.shape[1], float(y0)
        def solve(y: torch.Tensor) -> Estimate:
            return Estimate(y_full - per_feature_mean(y, rows, features, m), torch.zeros(len(y), m))

        return ScoreCollector(segmentation, solve, coalitions)
