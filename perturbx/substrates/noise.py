"""Random noise fills, drawn once per image from the generator given (the same noise for every sample)."""

from __future__ import annotations

import torch
from pydantic import Field, model_validator

from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate


@register("uniform_noise", paper="Fong & Vedaldi 2017 (noise perturbation)")
class UniformNoise(Substrate):
    """Each pixel and channel uniform in ``[low, high]``; drawn once per image in :meth:`prepare`."""

    low: float = Field(0.0, ge=0, le=1, description="lower bound")
    high: float = Field(1.0, ge=0, le=1, description="upper bound")

    @model_validator(mode="after")
    def _ordered(self) -> UniformNoise:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        u = torch.rand(image.shape, generator=generator, device=generator.device, dtype=image.dtype)
        return (self.low + (self.high - self.low) * u).to(image.device)


@register("gaussian_noise", paper="Fong & Vedaldi 2017 (noise perturbation)")
class GaussianNoise(Substrate):
    """``mean + std·ε`` per pixel and channel, clamped to [0,1]; ``mean=None`` centres the noise on the
    image itself (``image + std·ε``). Drawn once per image in :meth:`prepare`."""

    std: float = Field(0.1, gt=0, description="standard deviation")
    mean: float | None = Field(None, ge=0, le=1, description="grey level the noise is centred on; None: the image")

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        eps = torch.randn(image.shape, generator=generator, device=generator.device, dtype=image.dtype).to(image.device)
        centre = image if self.mean is None else torch.full_like(image, self.mean)
        return (centre + self.std * eps).clamp(0, 1)
