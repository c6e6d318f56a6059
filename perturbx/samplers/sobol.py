"""A Saltelli A/B/AB_i design from scrambled Sobol points, for variance-based (Sobol) indices."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("sobol", paper="Saltelli et al. 2010; Fel et al., NeurIPS 2021 (Sobol attribution)")
class SobolDesign(Sampler):
    """``n = n_samples // (M+2)`` designs (at least 2): rows ``[A; B; AB_1; …; AB_M]``, each block ``n``
    rows, where ``A`` and ``B`` are the two halves of a scrambled Sobol sequence in ``[0,1]^{2M}`` and
    ``AB_i`` is ``A`` with column ``i`` taken from ``B``. Coalitions are continuous mask amplitudes
    (as in Fel et al.), or 0/1 when ``binary``."""

    binary: bool = Field(False, description="round the amplitudes to 0/1 coalitions")

    def size(self, n_samples: int, n_features: int) -> int:
        return self.n_designs(n_samples, n_features) * (n_features + 2)

    def n_designs(self, n_samples: int, n_features: int) -> int:
        """Rows per block for a request of ``n_samples`` rows."""
        return max(2, n_samples // (n_features + 2))

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        m, n = n_features, self.n_designs(n_samples, n_features)
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        points = torch.quasirandom.SobolEngine(2 * m, scramble=True, seed=seed).draw(n).float()
        if self.binary:
            points = (points >= 0.5).float()
        a, b = points[:, :m], points[:, m:]
        blocks = [a, b]
        for i in range(m):
            ab = a.clone()
            ab[:, i] = b[:, i]
            blocks.append(ab)
        return Coalitions(torch.cat(blocks))
