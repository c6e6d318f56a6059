"""Independent keep/replace draws per feature, as in RISE."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("bernoulli", paper="Petsiuk et al. 2018 (RISE)")
class Bernoulli(Sampler):
    """Each feature kept with probability ``p``, independently."""

    p: float = Field(0.5, gt=0.0, lt=1.0, description="keep probability")

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        z = (torch.rand(n_samples, n_features, generator=generator) < self.p).float()
        return Coalitions(z, keep_rate=self.p)
