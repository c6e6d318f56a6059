"""Prediction difference analysis: the score with the image against the mean score with a feature removed."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector, mean_influence
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


@register("pda", paper="Robnik-Šikonja & Kononenko 2008; Zintgraf et al., ICLR 2017 (prediction difference analysis)")
class Pda(Attributor):
    """``p̄_j`` = mean score of the rows that remove feature j (weighted by ``1 − z_j`` for soft designs).
    ``probability``: ``p(x) − p̄_j``; ``information``: ``log2 p(x) − log2 p̄_j``; ``evidence``:
    ``log2 odds p(x) − log2 odds p̄_j``. The log forms need probabilities and apply the Laplace correction
    ``p ← (p·n_train + 1)/(n_train + n_classes)`` (ImageNet-1k sizes by default) unless ``laplace`` is off.
    Standard error: ``p̄_j`` is a ratio estimator; its first-order error goes through the difference's slope."""

    anytime: ClassVar[bool] = True

    form: Literal["probability", "information", "evidence"] = Field("probability", description="difference measure")
    laplace: bool = Field(True, description="Laplace-correct probabilities before taking logs")
    n_train: int = Field(1_281_167, ge=1, description="training-set size for the Laplace correction")
    n_classes: int = Field(1000, ge=2, description="number of classes for the Laplace correction")

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        never = torch.nonzero((1.0 - coalitions.z).sum(0) <= 0).flatten().tolist()
        if never:
            raise PerturbxError(f"attributor pda: features {never[:10]} are never removed by the sampler's design, "
                                "so their prediction difference is undefined")

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        removed = 1.0 - coalitions.z.cpu().double()
        y_full = float(y0)
        if self.form != "probability" and not 0.0 <= y_full <= 1.0:
            raise PerturbxError(f"attributor pda: form {self.form!r} needs probability scores, got y(x) = "
                                f"{y_full:.4g}; use output='probability' or form='probability'")

        def solve(y: torch.Tensor) -> Estimate:
            p_removed, influence = mean_influence(y, removed[: len(y)])
            scores = self.difference(torch.tensor(y_full, dtype=torch.float64), p_removed)
            return Estimate(scores, influence * self.slope(p_removed)[None])

        return ScoreCollector(segmentation, solve, coalitions)

    def difference(self, p_full: torch.Tensor, p_removed: torch.Tensor) -> torch.Tensor:
        """The chosen difference between the full-image score and the feature-removed means."""
        if self.form == "probability":
            return p_full - p_removed
        if self.laplace:
            p_full, p_removed = self._laplace(p_full), self._laplace(p_removed)
        if self.form == "information":
            return torch.log2(p_full) - torch.log2(p_removed)
        return torch.log2(p_full / (1 - p_full)) - torch.log2(p_removed / (1 - p_removed))

    def slope(self, p_removed: torch.Tensor) -> torch.Tensor:
        """Derivative of the difference with respect to ``p̄_j`` (for the first-order standard error)."""
        if self.form == "probability":
            return torch.full_like(p_removed, -1.0)
        scale = self.n_train / (self.n_train + self.n_classes) if self.laplace else 1.0
        p = self._laplace(p_removed) if self.laplace else p_removed
        if self.form == "information":
            return -scale / (p * math.log(2))
        return -scale / (p * (1 - p) * math.log(2))

    def _laplace(self, p: torch.Tensor) -> torch.Tensor:
        return (p * self.n_train + 1) / (self.n_train + self.n_classes)
