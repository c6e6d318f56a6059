"""Leverage-score coalitions for KernelSHAP: every coalition size equally likely, kernel-reweighted rows."""

from __future__ import annotations

import torch

from perturbx.registry import register
from perturbx.samplers.kernelshap import KernelShapSampler


@register("leverage_shap", paper="Musco & Witter, ICLR 2025 (Leverage SHAP)")
class LeverageShapSampler(KernelShapSampler):
    """KernelSHAP's design drawn by the leverage scores of its constrained regression, which are
    ``1/C(M,s)`` for a coalition of size ``s``: each size 1..M−1 is equally likely and the coalition
    uniform within it. Each row is weighted by Shapley kernel / sampling probability, ∝ ``1/(s(M−s))``,
    so the weighted fit estimates the same Shapley values with fewer rows spent on the extreme sizes.
    Row 0 removes every feature; ``paired`` and ``exhaustive`` as in ``kernelshap``."""

    def size_law(self, n_features: int) -> torch.Tensor:
        return torch.full((n_features - 1,), 1.0 / (n_features - 1), dtype=torch.float64)

    def row_weights(self, sizes: torch.Tensor, n_features: int) -> torch.Tensor:
        # kernel (M−1)/(C(M,s)·s(M−s)) over probability law(s)/C(M,s): the binomials cancel
        m, s = n_features, sizes.double()
        inner = (s > 0) & (s < m)
        law = self.size_law(m)[(sizes.long() - 1).clamp(0, m - 2)]
        weights = torch.where(inner, (m - 1) / (s * (m - s)).clamp_min(1) / law, torch.zeros_like(s))
        return (weights / weights[inner].mean()).float()
