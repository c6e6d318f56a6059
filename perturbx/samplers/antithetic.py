"""Antithetic Bernoulli coalitions: each row followed by its mirror image, for lower-variance RISE maps."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("antithetic", paper="Hammersley & Morton 1956 (antithetic variates); Petsiuk et al. 2018 (RISE)")
class Antithetic(Sampler):
    """Pairs of rows from one uniform draw ``u [M]``: keep where ``u < p``, then where ``1 − u < p``. Each
    row is Bernoulli(``p``) as in ``bernoulli`` (so estimates stay unbiased), but the pair is negatively
    correlated (at ``p = 0.5`` the second row is the complement of the first), which cancels much of the
    noise of mean-score estimators such as RISE. A pair is one draw for the standard errors."""

    p: float = Field(0.5, gt=0.0, lt=1.0, description="keep probability")

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        pairs = (n_samples + 1) // 2
        u = torch.rand(pairs, n_features, generator=generator)
        z = torch.stack([u < self.p, 1.0 - u < self.p], 1).reshape(2 * pairs, n_features)[:n_samples]
        return Coalitions(z.float(), groups=torch.arange(n_samples) // 2, keep_rate=self.p)
