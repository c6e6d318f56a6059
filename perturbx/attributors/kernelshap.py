"""KernelSHAP: Shapley values as the efficiency-constrained weighted least-squares fit with the Shapley kernel."""

from __future__ import annotations

from typing import ClassVar

import torch

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector, empty_rows
from perturbx.attributors.solvers import efficient_wls
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler
from perturbx.samplers.kernelshap import shapley_kernel
from perturbx.segmenters.segmentation import Segmentation

_FIX = "use the kernelshap, exhaustive or permutation sampler, or single with include_none=true"


@register("kernelshap", paper="Lundberg & Lee, NeurIPS 2017 (KernelSHAP)")
class KernelShap(Attributor):
    """Minimise ``Σ w_n (y_n − y(∅) − z_n·φ)²`` subject to ``Σφ = y(x) − y(∅)``. ``y(∅)`` is the mean score
    of the all-removed rows (the design must hold one); all-kept rows are constraints, not data. Row
    weights come from the sampler (``kernelshap``) or else the Shapley kernel of each row's size. With
    every coalition (``exhaustive``) the result is the exact Shapley value. Standard error: the sandwich
    variance of the constrained least-squares fit over the design's independent draws (pairs under
    paired sampling, as in Covert & Lee 2021); exactly 0 for an enumerated design."""

    anytime: ClassVar[bool] = True

    def accepts(self, sampler: Sampler) -> None:
        if not sampler.has_empty_row():
            raise PerturbxError(f"attributor kernelshap: needs y(∅), the score with every feature removed, but the "
                                f"{sampler.name} sampler's designs need not hold an all-removed row; {_FIX}")

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        if len(empty_rows(coalitions.z)) == 0:
            raise PerturbxError(
                "attributor kernelshap: needs y(∅), the score with every feature removed, but the sampler's design has "
                f"no all-removed row; {_FIX}"
            )

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        z = coalitions.z.cpu().double()
        m = z.shape[1]
        weights = coalitions.weights.cpu().double() if coalitions.weights is not None else shapley_kernel(z.sum(1), m)
        empty = empty_rows(z)
        full = (z == 1).all(1)
        data = torch.nonzero(~full & ~(z == 0).all(1) & (weights > 0)).flatten()
        y_full = float(y0)

        def solve(y: torch.Tensor) -> Estimate:
            n = len(y)
            rows = data[data < n]
            total = y_full - y[empty[empty < n]].mean()
            if m == 1 or len(rows) == 0:
                spread = torch.full((m,), float(total) / m, dtype=torch.float64)
                return Estimate(spread, torch.zeros(n, m, dtype=torch.float64) if m == 1 else None)
            phi, influence = efficient_wls(z[rows], y[rows] - (y_full - total), weights[rows], total)
            return Estimate(phi, torch.zeros(n, m, dtype=torch.float64).index_copy_(0, rows, influence))

        return ScoreCollector(segmentation, solve, coalitions)
