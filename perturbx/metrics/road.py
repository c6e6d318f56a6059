"""ROAD (Rong et al. 2022): remove a percentage of the most (MoRF) or least (LeRF) relevant pixels,
fill them by noisy linear imputation, and read the target score."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, field_validator

from perturbx import registry
from perturbx.metrics.base import Curve, MetricContext, ModelMetric, Score, target_label
from perturbx.metrics.curves import CurveJob, pixel_ranks, run_curves
from perturbx.models.adapter import ModelAdapter
from perturbx.perturb.imputation import noisy_linear_impute
from perturbx.targets import Targets


@registry.register("road", paper="Rong et al. 2022 (ROAD: RemOve And Debias), noisy linear imputation")
class Road(ModelMetric):
    """Rows ``road_morf`` (lower is better), ``road_lerf`` (higher is better) — each the mean target score
    over ``percentages`` — and, with both orders, ``road_combined`` = LeRF − MoRF.

    Each point removes round(p·H·W/100) pixels from the original image (not cumulatively imputed);
    removed pixels are imputed jointly from their 8 neighbours (1/6 direct, 1/12 diagonal) plus
    Gaussian noise of ``noise_std``.
    """

    percentages: list[float] = Field([10, 20, 30, 40, 50, 60, 70, 80, 90], min_length=1,
                                     description="percent of pixels removed at each point")
    orders: list[Literal["morf", "lerf"]] = Field(["morf", "lerf"], min_length=1, description="MoRF, LeRF or both")
    noise_std: float = Field(0.01, ge=0.0, description="standard deviation of the imputation noise")
    seed: int = Field(0, ge=0, description="seed of the imputation noise (the same for every image and order)")

    @field_validator("percentages")
    @classmethod
    def _percent(cls, value: list[float]) -> list[float]:
        if any(not 0 <= p <= 100 for p in value):
            raise ValueError("percentages must lie in [0, 100]")
        return value

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        scorer = self.scorer(adapter)
        device = adapter.device
        total = x.shape[-2] * x.shape[-1]
        fractions = torch.tensor(self.percentages, dtype=torch.float64) / 100
        counts = (fractions * total).round().long()
        jobs = []
        for b in range(x.shape[0]):
            image = x[b].to(device)
            for order in self.orders:
                generator = torch.Generator().manual_seed(self.seed)

                def fill(keep: torch.Tensor, image: torch.Tensor = image, g: torch.Generator = generator
                         ) -> torch.Tensor:
                    return torch.stack([noisy_linear_impute(image, r, self.noise_std, g) for r in keep < 0.5])

                rank = pixel_ranks(maps[b, 0].to(device), descending=order == "morf")
                jobs.append(CurveJob(image, rank, counts, targets.fns[b], fill))
        curves = run_curves(scorer, jobs, self.chunk(scorer, x))
        protocol = self.protocol(scorer) | {
            "order": "saliency, ties by row-major pixel index",
            "imputation": "noisy linear (1/6 direct, 1/12 diagonal neighbours)",
            "score_rule": "mean over percentages", "n_queries": len(counts)}
        scores, means = [], {}
        for j, y in enumerate(curves):
            b, o = divmod(j, len(self.orders))
            order = self.orders[o]
            means[(b, order)] = float(y.mean())
            scores.append(Score(b, f"road_{order}", means[(b, order)], protocol | {"class": target_label(targets, b)},
                                Curve(fractions.float(), y, f"fraction of pixels removed ({order})")))
        if len(set(self.orders)) == 2:
            scores += [Score(b, "road_combined", means[(b, "lerf")] - means[(b, "morf")],
                             protocol | {"class": target_label(targets, b), "n_queries": 2 * len(counts)})
                       for b in range(x.shape[0])]
        return scores
