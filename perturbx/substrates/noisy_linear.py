"""ROAD's noisy linear imputation of each sample's removed region."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.perturb.imputation import noisy_linear_impute
from perturbx.registry import register
from perturbx.substrates.masked import RegionFill


@register("noisy_linear", paper="Rong et al. 2022 (ROAD: noisy linear imputation)")
class NoisyLinear(RegionFill):
    """Removed pixels = weighted mean of their 8 neighbours (1/6 direct, 1/12 diagonal), solved jointly,
    plus Gaussian noise of ``noise_std`` drawn per sample from the generator (so the same seed gives the
    same fills whatever the batch size)."""

    noise_std: float = Field(0.01, ge=0, description="standard deviation of the added noise")

    def fill_region(self, image: torch.Tensor, removed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return noisy_linear_impute(image, removed, self.noise_std, generator)
