"""One random colour, drawn once per image."""

from __future__ import annotations

import torch

from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate


@register("random_color", paper="Pihlgren & Främling 2024 (random colour fill)")
class RandomColor(Substrate):
    """A colour uniform in [0,1]^C, drawn once per image from the generator (the same for every sample)."""

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        colour = torch.rand(image.shape[0], generator=generator, device=generator.device, dtype=image.dtype)
        return colour.to(image.device).view(-1, 1, 1).expand_as(image)
