"""A Saltelli A/B/AB_i design from scrambled Sobol points, for variance-based (Sobol) indices."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("sobol", paper="Saltelli et al. 2010; Fel et al., NeurIPS 2021 (Sobol attribution)")
class SobolDesign(Sampler):
    """``n = n_samples // (M+2)`` design points (at least 2), each a block of M+2 rows ``[a; b; ab_1; …;
    ab_M]``: ``a`` and ``b`` are the two halves of a point of a scrambled Sobol sequence in ``[0,1]^{2M}``
    (or of a uniform random point when ``qmc`` is off) and ``ab_i`` is ``a`` with column ``i`` taken from
    ``b``. Point-major order, so every prefix of whole blocks is itself a design (for the stopping rule).
    Coalitions are continuous mask amplitudes (as in Fel et al.), or 0/1 when ``binary``."""

    binary: bool = Field(False, description="round the amplitudes to 0/1 coalitions")
    qmc: bool = Field(True, description="scrambled Sobol points; off: independent uniform points")

    def size(self, n_samples: int, n_features: int) -> int:
        return self.n_designs(n_samples, n_features) * (n_features + 2)

    def n_designs(self, n_samples: int, n_features: int) -> int:
        """Design points (blocks of M+2 rows) for a request of ``n_samples`` rows."""
        return max(2, n_samples // (n_features + 2))

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        m, n = n_features, self.n_designs(n_samples, n_features)
        if self.qmc:
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
            points = torch.quasirandom.SobolEngine(2 * m, scramble=True, seed=seed).draw(n).float()
        else:
            points = torch.rand(n, 2 * m, generator=generator)
        if self.binary:
            points = (points >= 0.5).float()
        a, b = points[:, None, :m], points[:, None, m:]
        ab = torch.where(torch.eye(m, dtype=torch.bool)[None], b, a)
        z = torch.cat([a, b, ab], 1).reshape(n * (m + 2), m)
        return Coalitions(z, groups=torch.arange(n).repeat_interleave(m + 2))
