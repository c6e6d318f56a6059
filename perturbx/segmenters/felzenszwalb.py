"""Felzenszwalb's graph-based segmentation."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.segmenters.labelmap import LabelSegmenter, hwc


@register("felzenszwalb", paper="Felzenszwalb & Huttenlocher 2004; PAMI uses scale 250..50, sigma 0.8, min_size 28²")
class Felzenszwalb(LabelSegmenter):
    """``skimage.segmentation.felzenszwalb``: larger ``scale`` gives larger segments."""

    scale: float = Field(100.0, gt=0, description="observation level; higher = larger segments")
    smoothing: float = Field(0.8, ge=0, description="Gaussian pre-smoothing (scikit-image's sigma)")
    min_size: int = Field(784, ge=1, description="minimum segment size in pixels (PAMI: 28² at 224 px)")

    def labels(self, image: torch.Tensor) -> torch.Tensor:
        from skimage.segmentation import felzenszwalb

        return torch.from_numpy(felzenszwalb(
            hwc(image), scale=self.scale, sigma=self.smoothing, min_size=self.min_size, channel_axis=-1))
