"""SLIC superpixels: k-means on colour and position."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.segmenters.labelmap import LabelSegmenter, hwc


@register("slic", paper="Achanta et al. 2012 (SLIC); PAMI uses n_segments 10..80, compactness 20")
class Slic(LabelSegmenter):
    """``skimage.segmentation.slic`` on the image in [0,1] (Lab colour for RGB)."""

    n_segments: int = Field(50, ge=1, description="approximate number of segments")
    compactness: float = Field(10.0, gt=0, description="colour vs space balance; higher = squarer segments")
    smoothing: float = Field(0.0, ge=0, description="Gaussian pre-smoothing (scikit-image's sigma)")
    max_num_iter: int = Field(10, ge=1, description="k-means iterations")
    enforce_connectivity: bool = Field(True, description="merge disconnected pieces into neighbours")

    def labels(self, image: torch.Tensor) -> torch.Tensor:
        from skimage.segmentation import slic

        return torch.from_numpy(slic(
            hwc(image), n_segments=self.n_segments, compactness=self.compactness, sigma=self.smoothing,
            max_num_iter=self.max_num_iter, enforce_connectivity=self.enforce_connectivity, channel_axis=-1))
