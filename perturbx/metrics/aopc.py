"""AOPC (Samek et al. 2017): the mean drop of the target score as the most (MoRF) or least (LeRF)
relevant square regions are removed one after another."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field

from perturbx import registry
from perturbx.metrics.base import Curve, MetricContext, ModelMetric, Score, target_label
from perturbx.metrics.curves import CurveJob, patch_labels, region_ranks, run_curves
from perturbx.models.adapter import ModelAdapter
from perturbx.substrates.base import Substrate
from perturbx.targets import Targets

Order = Literal["morf", "lerf"]


@registry.register("aopc", paper="Samek et al. 2017, region perturbation and AOPC")
class Aopc(ModelMetric):
    """Rows ``aopc_morf`` (higher is better) and ``aopc_lerf`` (lower is better).

    Regions are the non-overlapping ``patch``×``patch`` squares of a grid (partial at the edges),
    ranked by the ``reduce`` of the map inside them; AOPC = mean over k = 0..L of f(x) − f(x with k
    regions removed), L = min(``regions``, number of patches). By default removed regions take uniform
    noise in [0,1], drawn once per image, as in the paper; any substrate can be given.
    """

    patch: int = Field(9, ge=1, description="side of a square region in pixels (9 in the paper)")
    regions: int = Field(100, ge=1, description="L, the number of regions removed (100 in the paper)")
    reduce: Literal["sum", "mean"] = Field("sum", description="a region's relevance: sum or mean of the map")
    orders: list[Order] = Field(["morf", "lerf"], min_length=1, description="MoRF, LeRF or both")
    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        default_factory=lambda: registry.build("substrate", "uniform_noise"),
        description="what removed regions become (uniform noise in the paper)",
    )
    seed: int = Field(0, ge=0, description="seed of a stochastic substrate (the same for every image)")

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        scorer = self.scorer(adapter)
        device = adapter.device
        labels = patch_labels(tuple(x.shape[-2:]), self.patch).to(device)
        steps = min(self.regions, int(labels.max()) + 1)
        counts = torch.arange(steps + 1)
        jobs = []
        for b in range(x.shape[0]):
            image = x[b].to(device)
            fill = self.substrate.bind(image, None, torch.Generator().manual_seed(self.seed))
            for order in self.orders:
                rank = region_ranks(maps[b, 0].to(device), labels, self.reduce, descending=order == "morf")
                jobs.append(CurveJob(image, rank, counts, targets.fns[b], fill))
        curves = run_curves(scorer, jobs, self.chunk(scorer, x))
        protocol = self.protocol(scorer) | {
            "order": "region relevance, ties by row-major patch index",
            "score_rule": "mean over k=0..L of f(x) - f(x_k)",
            "points": steps + 1,
            "n_queries": steps + 1,
        }
        scores = []
        for j, y in enumerate(curves):
            b, order = divmod(j, len(self.orders))
            drop = y[0] - y
            scores.append(
                Score(
                    b,
                    f"aopc_{self.orders[order]}",
                    float(drop.mean()),
                    protocol | {"class": target_label(targets, b)},
                    Curve(counts.float(), drop, f"regions removed ({self.orders[order]}), score drop"),
                )
            )
        return scores
