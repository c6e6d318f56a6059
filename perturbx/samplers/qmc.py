"""Quasi-Monte-Carlo coalitions: Bernoulli masks thresholded from independently scrambled Sobol nets."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("qmc", paper="Owen 1995 (scrambled nets); Fel et al., NeurIPS 2021 (Sobol sequences for attribution)")
class QuasiRandom(Sampler):
    """Rows come in blocks of ``block``: block b holds the first points ``u`` of a Sobol sequence in
    ``[0,1]^M`` with its own random scramble, and a row keeps feature j where ``u_j < p``. Each row is
    marginally Bernoulli(``p``), so estimates are unbiased; within a block the points fill the cube evenly
    (every feature is kept in almost exactly ``p·block`` rows), so fewer rows reach the same accuracy; and
    the blocks are independent replicates, so the spread between them is an honest standard error
    (randomised QMC), where treating rows as independent would overstate it."""

    p: float = Field(0.5, gt=0.0, lt=1.0, description="keep probability")
    block: int = Field(
        256, ge=2, description="rows per independently scrambled net (a power of two; fewer in designs under 8 blocks)"
    )

    def rows_per_block(self, n_samples: int) -> int:
        """``block``, or the largest power of two that still leaves about 8 blocks in a small design."""
        return max(2, min(self.block, 1 << max(1, (n_samples // 8).bit_length() - 1)))

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        size = self.rows_per_block(n_samples)
        seeds = torch.randint(0, 2**31 - 1, (-(-n_samples // size),), generator=generator).tolist()
        u = torch.cat([
            torch.quasirandom.SobolEngine(n_features, scramble=True, seed=seed).draw(size, dtype=torch.float64)
            for seed in seeds
        ])[:n_samples]
        return Coalitions((u < self.p).float(), groups=torch.arange(n_samples) // size, keep_rate=self.p)
