"""LIME coalitions: a uniformly random number of features removed per row, the first row the original."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("lime", paper="Ribeiro, Singh & Guestrin, KDD 2016 (LIME)")
class LimeSampler(Sampler):
    """Each row removes ``k`` features chosen uniformly at random, with ``k`` uniform on 1..M (as lime's
    text and tabular samplers do; lime_image uses Bernoulli(0.5), which is ``sampler: bernoulli``).
    ``include_original`` makes row 0 keep every feature, as lime does."""

    include_original: bool = Field(True, description="first row keeps every feature")

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        m = n_features
        removed = torch.randint(1, m + 1, (n_samples,), generator=generator)
        ranks = torch.rand(n_samples, m, generator=generator).argsort(1).argsort(1)
        z = (ranks >= removed[:, None]).float()
        if self.include_original:
            z[0] = 1.0
        return Coalitions(z)
