"""KernelSHAP: Shapley values as the efficiency-constrained weighted least-squares fit with the Shapley kernel."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.logistic_game import fit_logistic
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
    paired sampling, as in Covert & Lee 2021); exactly 0 for an enumerated design.

    ``adjust: logistic`` is a regression adjustment: it fits the surrogate game ``c₀ + c₁·σ(b + z·β)`` to the
    scores (by the same weights), takes its exact Shapley values, and estimates only the residual game
    ``f − g`` by the regression above. Probabilities of a classifier are close to such a game, so the
    residual, and the error, is much smaller; the estimate stays consistent whatever the fit (the
    surrogate's values are exact), and its standard error is the residual fit's sandwich, scaled by
    ``n/(n − M − 3)`` for the surrogate's parameters."""

    anytime: ClassVar[bool] = True

    adjust: Literal["none", "logistic"] = Field(
        "none", description="regression adjustment: none, or a logistic-additive surrogate with exact values"
    )

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
            y_empty = float(y[empty[empty < n]].mean())
            if m == 1 or len(rows) == 0:
                spread = torch.full((m,), (y_full - y_empty) / m, dtype=torch.float64)
                return Estimate(spread, torch.zeros(n, m, dtype=torch.float64) if m == 1 else None)
            values, base, low, high = y[rows], torch.zeros(m, dtype=torch.float64), y_empty, y_full
            fits = self.adjust != "none" and len(rows) > 2 * (m + 3)  # too few rows to fit M + 3 parameters
            game = fit_logistic(z[rows], values, weights[rows], y_empty, y_full) if fits else None
            if game is not None:
                ends = game(torch.stack([torch.zeros(m), torch.ones(m)]))
                values, base = values - game(z[rows]), game.shapley()
                low, high = y_empty - float(ends[0]), y_full - float(ends[1])
            total = torch.tensor(high - low, dtype=torch.float64)
            phi, influence = efficient_wls(z[rows], values - low, weights[rows], total)
            if game is not None:  # the residuals also paid for the surrogate's M + 3 parameters
                influence = influence * (len(rows) / (len(rows) - m - 3)) ** 0.5
            return Estimate(base + phi, torch.zeros(n, m, dtype=torch.float64).index_copy_(0, rows, influence))

        return ScoreCollector(segmentation, solve, coalitions)
