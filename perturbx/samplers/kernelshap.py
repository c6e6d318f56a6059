"""KernelSHAP coalitions: sizes drawn by the Shapley kernel, paired, or every coalition when 2^M is small."""

from __future__ import annotations

import math

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler
from perturbx.samplers.exhaustive import all_coalitions


def shapley_kernel(sizes: torch.Tensor, n_features: int) -> torch.Tensor:
    """Shapley kernel ``(M−1) / (C(M,s)·s·(M−s))`` per coalition size ``s``; 0 at s = 0 and s = M (constraints)."""
    m = n_features
    s = sizes.double()
    log_binom = math.lgamma(m + 1) - torch.lgamma(s + 1) - torch.lgamma(m - s + 1)
    inner = (s > 0) & (s < m)
    weight = (m - 1) / (torch.exp(log_binom) * s.clamp_min(1) * (m - s).clamp_min(1))
    return torch.where(inner, weight, torch.zeros_like(weight))


@register("kernelshap", paper="Lundberg & Lee, NeurIPS 2017 (KernelSHAP)")
class KernelShapSampler(Sampler):
    """Row 0 removes every feature (for y(∅)); the other rows pick a size ``s`` with probability ∝
    ``(M−1)/(s(M−s))`` and a uniformly random coalition of that size, each with weight 1 (the kernel is
    in the sampling). ``paired`` follows each row with its complement. When ``2^M ≤ n_samples`` every
    coalition is listed once instead, weighted by the Shapley kernel, which makes KernelSHAP exact (a fixed
    design: standard error 0)."""

    paired: bool = Field(True, description="antithetic pairs: each coalition followed by its complement")
    exhaustive: bool = Field(True, description="enumerate all 2^M coalitions when that fits in n_samples")

    def has_empty_row(self) -> bool:
        return True

    def size(self, n_samples: int, n_features: int) -> int:
        if self._enumerates(n_samples, n_features):
            return 2**n_features
        return max(n_samples, 2)

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        m = n_features
        if self._enumerates(n_samples, m):
            z = all_coalitions(m)
            return Coalitions(z, shapley_kernel(z.sum(1), m).float(), fixed=True)
        rows = self.size(n_samples, m) - 1
        drawn = (rows + 1) // 2 if self.paired else rows
        sizes = torch.arange(1, m)
        k = sizes[torch.multinomial(self.size_law(m), drawn, replacement=True, generator=generator)]
        ranks = torch.rand(drawn, m, generator=generator).argsort(1).argsort(1)
        z = (ranks < k[:, None]).float()
        if self.paired:
            z = torch.stack([z, 1.0 - z], 1).reshape(-1, m)
        z = torch.cat([torch.zeros(1, m), z[:rows]])
        weights = self.row_weights(z.sum(1), m)
        weights[0] = 0.0
        groups = torch.arange(len(z))
        if self.paired:  # a coalition and its complement are one draw; row 0 (y(∅)) stands alone
            groups[1:] = 1 + torch.arange(rows) // 2
        return Coalitions(z, weights, groups)

    def size_law(self, n_features: int) -> torch.Tensor:
        """Probability of drawing each coalition size 1..M−1: the Shapley kernel's total mass per size."""
        sizes = torch.arange(1, n_features).double()
        mass = 1.0 / (sizes * (n_features - sizes))
        return mass / mass.sum()

    def row_weights(self, sizes: torch.Tensor, n_features: int) -> torch.Tensor:
        """Regression weight of each drawn row: Shapley kernel / sampling probability (here constant, 1)."""
        return torch.ones(len(sizes))

    def _enumerates(self, n_samples: int, n_features: int) -> bool:
        return n_features <= 1 or (self.exhaustive and n_features <= 24 and 2**n_features <= n_samples)
