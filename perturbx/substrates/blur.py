"""A Gaussian blur of the image itself: removes detail, keeps colour and layout."""

from __future__ import annotations

import torch
from pydantic import Field, field_validator

from perturbx.perturb.filters import gaussian_blur
from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate


@register("blur", paper="PAMI (kernel 49, sigma 100); RISE's insertion blur is rise_blur")
class Blur(Substrate):
    """Gaussian blur with standard deviation ``sigma`` px and an odd ``kernel_size`` (default 2⌈3σ⌉+1)."""

    sigma: float = Field(5.0, gt=0.0, description="standard deviation in pixels")
    kernel_size: int | None = Field(11, ge=1, description="odd kernel width; None for 2*ceil(3*sigma)+1")

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int | None) -> int | None:
        if value is not None and value % 2 == 0:
            raise ValueError("kernel_size must be odd")
        return value

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        return gaussian_blur(image[None], self.sigma, self.kernel_size)[0]
