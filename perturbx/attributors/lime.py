"""LIME: a weighted ridge regression of the scores on the coalitions, weighted by closeness to the image."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector
from perturbx.attributors.solvers import ridge_influence, weighted_ridge
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


def distance_to_original(z: torch.Tensor, metric: str) -> torch.Tensor:
    """Distance of each coalition to the all-kept row: ``cosine`` (1 for the empty row) or ``hamming``
    (the share of features removed)."""
    z = z.double()
    if metric == "hamming":
        return (1.0 - z).abs().mean(1)
    norm = z.norm(dim=1) * z.shape[1] ** 0.5
    return torch.where(norm > 0, 1.0 - z.sum(1) / norm.clamp_min(1e-300), torch.ones_like(norm))


@register("lime", paper="Ribeiro, Singh & Guestrin, KDD 2016 (LIME)")
class Lime(Attributor):
    """Feature scores are the coefficients of ``y ≈ b + z·β`` fitted by ridge regression (``alpha``, the
    intercept unpenalised) with row weights ``sqrt(exp(−d²/width²))``, ``d`` the ``distance`` of the
    coalition to the all-kept row. Defaults are lime_image's: cosine distance, width 0.25, alpha 1
    (Captum's Lime defaults differ: width 1.0 on the distance between images, Lasso alpha 0.01).
    ``kernel: none`` with ``alpha: 0`` is the plain (unweighted) linear surrogate. Sampler weights are
    ignored: LIME weights rows by its own kernel. Standard error: the sandwich (heteroscedasticity-robust)
    variance of the coefficients over the design's independent draws."""

    anytime: ClassVar[bool] = True

    kernel_width: float = Field(0.25, gt=0.0, description="width of the exponential kernel")
    distance: Literal["cosine", "hamming"] = Field("cosine", description="coalition distance to the all-kept row")
    kernel: Literal["exponential", "none"] = Field("exponential", description="row weights, or none (all 1)")
    alpha: float = Field(1.0, ge=0.0, description="ridge penalty on the coefficients")
    intercept: bool = Field(True, description="fit an unpenalised intercept")

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        if len(coalitions) < 2:
            raise PerturbxError(
                f"attributor lime: needs at least 2 coalitions to fit a surrogate, got {len(coalitions)}"
            )

    def weights(self, z: torch.Tensor) -> torch.Tensor:
        """The kernel weight of every coalition."""
        if self.kernel == "none":
            return torch.ones(z.shape[0], dtype=torch.float64)
        d = distance_to_original(z, self.distance)
        return torch.exp(-(d**2) / self.kernel_width**2).sqrt()

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        z = coalitions.z.cpu()
        w = self.weights(z)

        def solve(y: torch.Tensor) -> Estimate:
            n = len(y)
            beta, bias = weighted_ridge(z[:n], y, w[:n], self.alpha, self.intercept)
            return Estimate(beta, ridge_influence(z[:n], y, w[:n], beta, bias, self.alpha, self.intercept))

        return ScoreCollector(segmentation, solve, coalitions)
