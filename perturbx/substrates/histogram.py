"""Colours drawn from the image's own colour histogram."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate


@register("histogram", paper="Pihlgren & Främling 2024 (colour histogram fill)")
class Histogram(Substrate):
    """Colours are quantised to ``bins`` levels per channel; a bin is drawn with probability its pixel
    share and stands for the mean colour of its pixels. ``per_pixel``: a fresh draw for every pixel
    (histogram noise), else one colour for the whole fill. Drawn once per image in :meth:`prepare`."""

    bins: int = Field(8, ge=1, le=256, description="quantisation levels per channel")
    per_pixel: bool = Field(False, description="draw every pixel's colour, or one colour for the image")

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        c, h, w = image.shape
        pixels = image.detach().to("cpu", torch.float64).flatten(1)  # [C,P]
        levels = (pixels * self.bins).long().clamp(0, self.bins - 1)
        codes = (levels * self.bins ** torch.arange(c)[:, None]).sum(0)
        bins, codes = torch.unique(codes, return_inverse=True)
        counts = torch.bincount(codes, minlength=len(bins)).double()
        colours = torch.zeros(c, len(bins), dtype=torch.float64).index_add_(1, codes, pixels) / counts
        draws = torch.multinomial(counts.to(generator.device), h * w if self.per_pixel else 1, replacement=True,
                                  generator=generator).cpu()
        return colours[:, draws].view(c, *((h, w) if self.per_pixel else (1, 1))).expand(c, h, w).to(image)
