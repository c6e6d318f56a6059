"""One colour from the image itself: its mean or its median, per channel."""

from __future__ import annotations

import torch

from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate


@register("mean", paper="Pihlgren & Främling 2024 (single colour fills: mean, median, RGB)")
class Mean(Substrate):
    """Fill with the image's mean colour (per channel)."""

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        return image.mean((1, 2), keepdim=True).expand_as(image)


@register("median", paper="Pihlgren & Främling 2024 (single colour fills: mean, median, RGB)")
class Median(Substrate):
    """Fill with the image's median colour per channel (the mean of the two middle values for even counts,
    as ``numpy.median``)."""

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        ordered = image.flatten(1).sort(dim=1).values
        n = ordered.shape[1]
        median = (ordered[:, (n - 1) // 2] + ordered[:, n // 2]) / 2
        return median.view(-1, 1, 1).expand_as(image)
