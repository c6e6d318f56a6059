"""Shapley value sampling: mean marginal contribution of each feature along random permutations."""

from __future__ import annotations

from typing import ClassVar

import torch

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


def chain_features(z: torch.Tensor) -> torch.Tensor | None:
    """For a design of blocks of M+1 rows going from all-removed to all-kept one added feature at a time,
    the feature each step adds ``[P, M]``; ``None`` if ``z`` is not such a design."""
    n, m = z.shape
    if n == 0 or n % (m + 1):
        return None
    blocks = z.view(n // (m + 1), m + 1, m)
    steps = blocks[:, 1:] - blocks[:, :-1]
    ok = (blocks[:, 0] == 0).all() and ((steps == 0) | (steps == 1)).all() and (steps.sum(-1) == 1).all()
    return steps.argmax(-1) if ok else None


@register("shapley_sampling", paper="Castro, Gómez & Tejada 2009; Štrumbelj & Kononenko 2014")
class ShapleySampling(Attributor):
    """Feature j scores the mean of ``y(prefix + j) − y(prefix)`` over the permutation chains of the
    design (sampler ``permutation``): an unbiased estimate of its Shapley value, exact when the model is
    additive or every permutation is listed. Standard error: the spread of the chains' marginal
    contributions, a permutation and its antithetic reverse counted as one draw."""

    anytime: ClassVar[bool] = True

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        if chain_features(coalitions.z) is None:
            raise PerturbxError("attributor shapley_sampling: needs permutation chains (blocks of M+1 rows from "
                                "all-removed to all-kept, one feature added per row); use the permutation sampler")

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        z = coalitions.z.cpu()
        order = chain_features(z)
        m = z.shape[1]

        def solve(y: torch.Tensor) -> Estimate:
            chains = len(y) // (m + 1)  # complete chains only
            if chains == 0:
                return Estimate(torch.zeros(m, dtype=torch.float64))
            marginal = y[: chains * (m + 1)].view(chains, m + 1).diff(dim=1)
            per_feature = torch.zeros(chains, m, dtype=torch.float64).scatter_(1, order[:chains], marginal)
            scores = per_feature.mean(0)
            influence = torch.zeros(len(y), m, dtype=torch.float64)
            influence[torch.arange(chains) * (m + 1)] = (per_feature - scores) / chains
            return Estimate(scores, influence)

        return ScoreCollector(segmentation, solve, coalitions)
