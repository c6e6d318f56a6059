"""Independent keep/replace draws per feature, as in RISE and lime_image."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("bernoulli", paper="Petsiuk et al. 2018 (RISE)")
class Bernoulli(Sampler):
    """Each feature kept with probability ``p``, independently. ``include_original`` makes row 0 keep every
    feature, as lime_image's design does (the rows are then no longer all i.i.d., so estimators that need
    the design's exact moments refuse it)."""

    p: float = Field(0.5, gt=0.0, lt=1.0, description="keep probability")
    include_original: bool = Field(False, description="first row keeps every feature (lime_image)")

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        z = (torch.rand(n_samples, n_features, generator=generator) < self.p).float()
        if self.include_original:
            z[0] = 1.0
            return Coalitions(z)
        return Coalitions(z, keep_rate=self.p)
