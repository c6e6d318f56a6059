"""Quickshift: mode seeking in colour and position (the LIME default for images)."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.segmenters.labelmap import LabelSegmenter, hwc


@register("quickshift", paper="Vedaldi & Soatto 2008; Ribeiro et al. 2016 (LIME: kernel 4, max_dist 200, ratio 0.2)")
class Quickshift(LabelSegmenter):
    """``skimage.segmentation.quickshift``; grey images are repeated to three channels."""

    ratio: float = Field(1.0, ge=0, le=1, description="colour vs space balance; higher = more weight on colour")
    kernel_size: float = Field(5.0, gt=0, description="width of the density kernel")
    max_dist: float = Field(10.0, gt=0, description="cut-off of the data distances; higher = fewer segments")
    smoothing: float = Field(0.0, ge=0, description="Gaussian pre-smoothing (scikit-image's sigma)")
    convert2lab: bool = Field(True, description="segment in Lab colour space")
    seed: int = Field(42, ge=0, description="seed of the tie-breaking noise")

    def labels(self, image: torch.Tensor) -> torch.Tensor:
        from skimage.segmentation import quickshift

        rgb = image.expand(3, -1, -1) if image.shape[0] == 1 else image
        return torch.from_numpy(quickshift(
            hwc(rgb), ratio=self.ratio, kernel_size=self.kernel_size, max_dist=self.max_dist, sigma=self.smoothing,
            convert2lab=self.convert2lab, rng=self.seed, channel_axis=-1))
