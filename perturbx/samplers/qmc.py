"""Quasi-Monte-Carlo coalitions: Bernoulli masks thresholded from a scrambled Sobol sequence."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("qmc", paper="Owen 1995 (scrambled nets); Fel et al., NeurIPS 2021 (Sobol sequences for attribution)")
class QuasiRandom(Sampler):
    """Row n keeps feature j where ``u_nj < p``, ``u`` the first N points of an Owen-scrambled Sobol
    sequence in ``[0,1]^M`` (scramble seed from the generator). Each row is marginally Bernoulli(``p``),
    so estimates are unbiased, while the points fill the cube evenly, so fewer rows reach the same
    accuracy. Standard errors treat rows as independent, which overstates the error of such designs."""

    p: float = Field(0.5, gt=0.0, lt=1.0, description="keep probability")

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        engine = torch.quasirandom.SobolEngine(n_features, scramble=True, seed=seed)
        return Coalitions((engine.draw(n_samples, dtype=torch.float64) < self.p).float())
