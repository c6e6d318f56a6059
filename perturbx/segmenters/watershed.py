"""Compact watershed on the Sobel gradient of the grey image."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.segmenters.labelmap import LabelSegmenter, gray


@register("watershed", paper="Neubert & Protzel 2014 (compact watershed); PAMI uses 10/20/30 markers, 1e-4")
class Watershed(LabelSegmenter):
    """``skimage.segmentation.watershed(sobel(rgb2gray(image)), markers, compactness=...)``."""

    markers: int = Field(20, ge=1, description="number of evenly placed seed markers")
    compactness: float = Field(1e-4, ge=0, description="higher = more regularly shaped basins")

    def labels(self, image: torch.Tensor) -> torch.Tensor:
        from skimage.filters import sobel
        from skimage.segmentation import watershed

        return torch.from_numpy(watershed(sobel(gray(image)), markers=self.markers, compactness=self.compactness))
