"""Deletion and insertion curves (RISE): pixels by descending saliency, removed towards a substrate or
inserted into a blurred image, scored by the area under the curve."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import torch
from pydantic import Field, field_validator

from perturbx import registry
from perturbx.metrics.base import Curve, MetricContext, ModelMetric, Score, target_label
from perturbx.metrics.curves import CurveJob, pixel_ranks, run_curves, step_counts, trapezoid
from perturbx.models.adapter import ModelAdapter
from perturbx.substrates.base import Substrate
from perturbx.targets import Targets

PAPER = "Petsiuk et al. 2018 (RISE), deletion and insertion"


class _PixelCurve(ModelMetric):
    """Shared protocol of deletion and insertion."""

    insert: ClassVar[bool] = False

    step: int | float = Field(224, description="pixels changed per step (int), or a fraction of the image (float)")
    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        description="deletion: what removed pixels become; insertion: the start image"
    )
    axis: Literal["fraction", "step"] = Field(
        "fraction", description="AUC x axis: fraction of pixels changed, or step index / number of steps (RISE code)"
    )
    seed: int = Field(0, ge=0, description="seed of a stochastic substrate (the same for every image)")

    @field_validator("step")
    @classmethod
    def _positive(cls, value: int | float) -> int | float:
        if isinstance(value, float) and not 0.0 < value <= 1.0:
            raise ValueError("a fractional step must lie in (0, 1]")
        if isinstance(value, int) and value < 1:
            raise ValueError("a step in pixels must be >= 1")
        return value

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        scorer = self.scorer(adapter)
        device = adapter.device
        total = x.shape[-2] * x.shape[-1]
        counts = step_counts(total, self.step)
        jobs = []
        for b in range(x.shape[0]):
            image = x[b].to(device)
            fill = self.substrate.bind(image, None, torch.Generator().manual_seed(self.seed))
            jobs.append(CurveJob(image, pixel_ranks(maps[b, 0].to(device)), counts, targets.fns[b], fill, self.insert))
        curves = run_curves(scorer, jobs, self.chunk(scorer, x))
        if self.axis == "fraction":
            axis, label = counts.double() / total, f"fraction of pixels {self.verb}"
        else:
            axis, label = torch.linspace(0, 1, len(counts), dtype=torch.float64), "step / number of steps"
        protocol = self.protocol(scorer) | {
            "order": "descending saliency, ties by row-major pixel index",
            "auc": f"trapezoid over {label} in [0,1]",
            "points": len(counts),
            "n_queries": len(counts),
        }
        return [
            Score(
                b,
                self.name,
                trapezoid(y, axis),
                protocol | {"class": target_label(targets, b)},
                Curve(axis.float(), y, label),
            )
            for b, y in enumerate(curves)
        ]

    @property
    def verb(self) -> str:
        return "inserted" if self.insert else "deleted"


@registry.register("deletion", paper=PAPER)
class Deletion(_PixelCurve):
    """Remove the most salient pixels first, ``step`` at a time, towards ``substrate``; lower AUC is better.

    The default substrate, the ImageNet mean colour, is the RISE protocol's zero in the normalised
    input space of ImageNet models.
    """

    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        default_factory=lambda: registry.build("substrate", {"name": "constant", "color": "imagenet_mean"}),
        description="what removed pixels become",
    )


@registry.register("insertion", paper=PAPER)
class Insertion(_PixelCurve):
    """Start from ``substrate`` (RISE's blur, ``gkern(11, 5)``) and insert the most salient pixels first;
    higher AUC is better."""

    insert: ClassVar[bool] = True
    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        default_factory=lambda: registry.build("substrate", "rise_blur"),
        description="the image pixels are inserted into",
    )
