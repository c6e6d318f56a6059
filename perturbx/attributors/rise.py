"""RISE: the saliency of a pixel (or feature) is the mean score of the samples that kept it."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attribution, Attributor
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


@register("rise", paper="Petsiuk, Das & Saenko, BMVC 2018")
class Rise(Attributor):
    """``Σ_n y_n·m_n / Σ_n m_n`` per pixel over the actual (soft, shifted) keep-masks, and
    ``Σ_n y_n·z_n / Σ_n z_n`` per feature. ``normalize='expected'`` divides by ``N·p`` instead,
    as the original code did (``p`` = mean keep rate of the design)."""

    level: Literal["pixel", "feature"] = Field(
        "pixel", description="map from per-pixel accumulation, or feature scores projected through the masks"
    )
    normalize: Literal["coverage", "expected"] = Field(
        "coverage", description="divide by how often each pixel was kept, or by N·p"
    )

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        return _RiseSums(self, segmentation, coalitions)


class _RiseSums(Accumulator):
    def __init__(self, rise: Rise, segmentation: Segmentation, coalitions: Coalitions) -> None:
        device = segmentation.masks.device
        self.rise, self.segmentation = rise, segmentation
        self.n, self.p = len(coalitions), float(coalitions.z.mean())
        self.pixel_sum = torch.zeros(segmentation.shape, device=device, dtype=torch.float64)
        self.pixel_count = torch.zeros_like(self.pixel_sum)
        self.feature_sum = torch.zeros(segmentation.n_features, device=device, dtype=torch.float64)
        self.feature_count = torch.zeros_like(self.feature_sum)

    def update(self, z: torch.Tensor, keep: torch.Tensor, y: torch.Tensor) -> None:
        y = y.to(keep.dtype)
        self.pixel_sum += torch.einsum("n,nhw->hw", y, keep).double()
        self.pixel_count += keep.sum(0).double()
        self.feature_sum += (y @ z).double()
        self.feature_count += z.sum(0).double()

    def result(self) -> Attribution:
        if self.rise.normalize == "expected":
            scale = max(self.n * self.p, 1e-12)
            features, pixels = self.feature_sum / scale, self.pixel_sum / scale
        else:
            features = self.feature_sum / self.feature_count.clamp_min(1e-12)
            pixels = self.pixel_sum / self.pixel_count.clamp_min(1e-12)
        features = features.float()
        if self.rise.level == "feature":
            pixels = self.segmentation.project(features)
        return Attribution(features, pixels.float())
