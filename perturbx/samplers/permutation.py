"""Chains along random feature orders, for Shapley value sampling (Castro et al. 2009; Štrumbelj & Kononenko)."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("permutation", paper="Castro, Gómez & Tejada 2009; Štrumbelj & Kononenko 2014 (Shapley sampling)")
class Permutation(Sampler):
    """Blocks of M+1 rows, one per random permutation: the block starts with every feature removed and
    adds the features one by one in the permutation's order, ending with all kept. ``n_samples // (M+1)``
    permutations (at least one); ``antithetic`` pairs each permutation with its reverse."""

    antithetic: bool = Field(True, description="pair each permutation with its reverse")

    def has_empty_row(self) -> bool:
        return True

    def size(self, n_samples: int, n_features: int) -> int:
        return self.n_permutations(n_samples, n_features) * (n_features + 1)

    def n_permutations(self, n_samples: int, n_features: int) -> int:
        """How many permutations a request of ``n_samples`` rows buys."""
        n = max(1, n_samples // (n_features + 1))
        return n + (n % 2) if self.antithetic and n_features > 1 else n

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        m = n_features
        n = self.n_permutations(n_samples, m)
        drawn = n // 2 if self.antithetic and m > 1 else n
        orders = torch.rand(drawn, m, generator=generator).argsort(1)
        if drawn != n:
            orders = torch.stack([orders, orders.flip(1)], 1).reshape(n, m)
        position = orders.argsort(1)
        steps = torch.arange(m + 1)
        z = (position[:, None, :] < steps[None, :, None]).float()
        per_draw = n // drawn  # a permutation and its reverse are one draw
        return Coalitions(z.reshape(n * (m + 1), m), groups=torch.arange(drawn).repeat_interleave(per_draw * (m + 1)))
