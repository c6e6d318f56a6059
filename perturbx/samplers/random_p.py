"""Bernoulli coalitions whose keep probability is itself drawn per sample (Pihlgren & Främling 2024)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from scipy import special

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("random_p", paper="Pihlgren & Främling 2024 (per-sample keep probability)")
class RandomP(Sampler):
    """Each sample first draws its own keep probability ``p`` — ``uniform`` on [0,1], a ``normal``
    (``mean``, ``std``) truncated to [0,1], or ``beta`` (``a``, ``b``) — then keeps each feature with
    probability ``p``. Spreads coalition sizes more widely than a fixed ``p``."""

    distribution: Literal["uniform", "normal", "beta"] = Field("uniform", description="law of the keep probability")
    mean: float = Field(0.5, description="mean of the normal before truncation")
    std: float = Field(1.0, gt=0.0, description="standard deviation of the normal before truncation")
    a: float = Field(1.5, gt=0.0, description="first shape parameter of the beta")
    b: float = Field(1.5, gt=0.0, description="second shape parameter of the beta")

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        p = self.probabilities(n_samples, generator)
        z = (torch.rand(n_samples, n_features, generator=generator) < p[:, None]).float()
        return Coalitions(z)

    def probabilities(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` keep probabilities in [0,1] from the chosen law."""
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        if self.distribution == "uniform":
            return u.float()
        if self.distribution == "normal":
            normal = torch.distributions.Normal(torch.tensor(self.mean, dtype=torch.float64), self.std)
            lo, hi = normal.cdf(torch.zeros((), dtype=torch.float64)), normal.cdf(torch.ones((), dtype=torch.float64))
            return normal.icdf(lo + u * (hi - lo)).clamp(0.0, 1.0).float()
        return torch.from_numpy(special.betaincinv(self.a, self.b, u.numpy())).float()

