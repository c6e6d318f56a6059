"""MIF, LIF and SRG (perturbation-pipeline paper): remove the most / least influential pixels or
segments first, score each curve by the mean of its points, SRG = LIF − MIF."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, field_validator

from perturbx import registry
from perturbx.metrics.base import Curve, MetricContext, ModelMetric, Score, target_label
from perturbx.metrics.curves import CurveJob, even_counts, pixel_ranks, region_ranks, run_curves
from perturbx.models.adapter import ModelAdapter
from perturbx.segmenters.base import Segmenter
from perturbx.substrates.base import Substrate
from perturbx.targets import Targets


@registry.register("mif_lif", paper="Pihlgren & Främling 2024 (arXiv 2409.04116), MIF/LIF/SRG")
class MifLif(ModelMetric):
    """Rows ``mif`` (lower is better), ``lif`` (higher is better) and ``srg`` = LIF − MIF.

    Curve points are evenly spaced from nothing removed to everything removed (counts rounded to whole
    units). With a ``segmenter`` whole segments are removed, ranked by the ``reduce`` of the map over
    each segment's hard labels. ``normalise`` maps each curve point y to (y − y_end)/(y_0 − y_end).
    """

    points: int = Field(10, ge=2, description="curve points from nothing to everything removed")
    substrate: Substrate = Field(default_factory=lambda: registry.build("substrate", {
        "name": "constant", "color": "grey"}), description="what removed pixels become (grey 0.5 in the paper)")
    segmenter: Segmenter | None = Field(None, description="remove whole segments of this segmentation; None: pixels")
    reduce: Literal["mean", "sum"] = Field("mean", description="a segment's saliency: mean or sum over its pixels")
    normalise: bool = Field(False, description="(y - y_end) / (y_0 - y_end) before averaging")
    seed: int = Field(0, ge=0, description="seed of a stochastic substrate or segmenter (the same for every image)")

    @field_validator("substrate", "segmenter", mode="before")
    @classmethod
    def _build(cls, value: Any, info: Any) -> Any:
        return None if value is None else registry.build(info.field_name, value, where=info.field_name)

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        scorer = self.scorer(adapter)
        device = adapter.device
        jobs, totals = [], []
        for b in range(x.shape[0]):
            generator = torch.Generator().manual_seed(self.seed)
            image, saliency = x[b].to(device), maps[b, 0].to(device)
            if self.segmenter is None:
                total, ranks = saliency.numel(), [pixel_ranks(saliency, d) for d in (True, False)]
            else:
                labels = self.segmenter.segment(x[b], generator).labels
                total = int(labels.max()) + 1
                ranks = [region_ranks(saliency, labels, self.reduce, d) for d in (True, False)]
            fill = self.substrate.bind(image, None, generator)
            counts = even_counts(total, self.points)
            jobs += [CurveJob(image, rank, counts, targets.fns[b], fill) for rank in ranks]
            totals.append((total, counts))
        curves = run_curves(scorer, jobs, self.chunk(scorer, x))
        unit = "pixels" if self.segmenter is None else "segments"
        base = self.protocol(scorer) | {"order": "saliency, ties by lower index", "score_rule": "mean of curve points",
                                        "n_queries": 2 * self.points}
        scores = []
        for b, (total, counts) in enumerate(totals):
            protocol = base | {"class": target_label(targets, b), "units": total}
            axis = counts.float() / total
            mif, lif = (self._normalised(y) for y in curves[2 * b: 2 * b + 2])
            label = f"fraction of {unit} removed"
            scores += [
                Score(b, "mif", float(mif.mean()), protocol, Curve(axis, mif, f"{label}, most influential first")),
                Score(b, "lif", float(lif.mean()), protocol, Curve(axis, lif, f"{label}, least influential first")),
                Score(b, "srg", float(lif.mean() - mif.mean()), protocol),
            ]
        return scores

    def _normalised(self, y: torch.Tensor) -> torch.Tensor:
        if not self.normalise:
            return y
        return (y - y[-1]) / (y[0] - y[-1])
