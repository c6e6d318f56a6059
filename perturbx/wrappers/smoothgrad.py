"""SmoothGrad and its squared and VarGrad variants: gradients averaged over noisy copies, batched."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.targets import TargetSpec
from perturbx.wrappers.gradient_base import GradientExplainer, GradientRun, Reduce


@register("smoothgrad", paper="Smilkov et al. 2017, SmoothGrad; Adebayo et al. 2018 (VarGrad)")
class SmoothGrad(GradientExplainer):
    """Mean (``variant=mean``), mean square (``squared``) or variance (``vargrad``) of ∂y/∂x at
    ``x + ε``, ε ~ N(0, σ²) with σ = ``sigma`` × (max − min) of each image (``noise_scale=relative``,
    the paper's noise level) or σ = ``sigma`` (``absolute``). Every image draws its noise from a
    generator seeded with ``seed``, one sample at a time, so maps do not depend on the batch."""

    n_samples: int = Field(25, ge=1, description="noisy copies per image")
    sigma: float = Field(0.15, ge=0, description="noise level")
    noise_scale: Literal["relative", "absolute"] = Field("relative", description="σ relative to the image's range")
    variant: Literal["mean", "squared", "vargrad"] = Field("mean", description="mean, squared (E[g²]) or vargrad")
    seed: int = Field(0, ge=0, description="noise seed (the same for every image)")
    reduce: Reduce = Field("abs_max", description="channel reduction: sum (signed), abs_sum, abs_max or max")

    def noise(self, image: torch.Tensor, n: int) -> torch.Tensor:
        """The ``n`` noise samples ``[n,C,H,W]`` this explainer adds to ``image``."""
        generator = torch.Generator().manual_seed(self.seed)
        return torch.stack([self._draw(image, generator) for _ in range(n)])

    def _draw(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        std = self.sigma * float(image.max() - image.min()) if self.noise_scale == "relative" else self.sigma
        return (torch.randn(image.shape, generator=generator) * std).to(image.device, image.dtype)

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        run.resolve(target)
        generators = [torch.Generator().manual_seed(self.seed) for _ in range(run.x.shape[0])]

        def make(b: int, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            noise = torch.stack([self._draw(run.x[b], generators[b]) for _ in idx])
            return run.x[b] + noise, torch.tensor(1.0 / self.n_samples)

        mean, mean_sq = run.integrate(self.n_samples, make, squares=True)
        if self.variant == "mean":
            return mean
        if self.variant == "squared":
            return mean_sq
        return mean_sq - mean.pow(2)
