"""Robustness and faithfulness of a map under input perturbations: max-sensitivity, infidelity,
faithfulness correlation."""

from __future__ import annotations

from typing import Annotated, ClassVar

import torch
from pydantic import Field, field_validator

from perturbx import registry
from perturbx.metrics.base import Metric, MetricContext, ModelMetric, Score, target_label
from perturbx.models.adapter import ModelAdapter
from perturbx.substrates.base import Substrate
from perturbx.targets import Targets


@registry.register("max_sensitivity", paper="Yeh et al. 2019 (sensitivity-n / max-sensitivity); Captum defaults")
class MaxSensitivity(Metric):
    """max over ``samples`` inputs y = clamp(x + U(−radius, radius), 0, 1) of ‖Φ(y) − Φ(x)‖_F, divided by
    ‖Φ(x)‖_F when ``relative`` (as Captum does); lower is more robust. Captum's defaults: radius 0.02,
    10 samples; Quantus uses 0.2 and 200."""

    requires: ClassVar[tuple[str, ...]] = ("explainer",)

    samples: int = Field(10, ge=1, description="perturbed inputs per image")
    radius: float = Field(0.02, gt=0.0, description="L-infinity radius of the uniform input noise")
    relative: bool = Field(True, description="divide by the norm of the original map")
    seed: int = Field(0, ge=0, description="seed of the noise (the same for every image)")

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        explainer = context.explainer
        noise = torch.stack([self._noise(x.shape[1:]) for _ in range(x.shape[0])])
        noisy = (x.cpu()[:, None] + noise).clamp(0, 1).flatten(0, 1)
        target = targets.classes if targets.classes is not None else targets.fns
        target = (
            target.repeat_interleave(self.samples)
            if isinstance(target, torch.Tensor)
            else [fn for fn in target for _ in range(self.samples)]
        )
        explanation = explainer.explain(adapter, noisy, target)
        new = explanation.maps.view(x.shape[0], self.samples, -1).double().cpu()
        old = maps.flatten(1).double().cpu()
        diffs = (new - old[:, None]).norm(dim=-1).amax(dim=1)
        if self.relative:
            diffs = diffs / old.norm(dim=-1).clamp_min(1e-12)
        protocol = self.protocol(adapter) | {
            "noise": "uniform in the L-infinity ball, clamped to [0,1]",
            "norm": "frobenius",
            "n_queries": explanation.n_queries // x.shape[0],
        }
        return [
            Score(b, self.name, float(diffs[b]), protocol | {"class": target_label(targets, b)})
            for b in range(x.shape[0])
        ]

    def _noise(self, shape: torch.Size) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed)
        return (torch.rand((self.samples, *shape), generator=generator) * 2 - 1) * self.radius


@registry.register("infidelity", paper="Yeh et al. 2019 (infidelity)")
class Infidelity(ModelMetric):
    """mean over ``samples`` draws I ~ N(0, noise_std²) per pixel and channel of (Σ I·Φ − (f(x) − f(x − I)))²,
    the map Φ ``[H,W]`` shared by every channel; x − I is not clamped. ``normalise`` first scales Φ by
    the least-squares factor β = E[IᵀΦ·Δf] / E[(IᵀΦ)²] (Captum's ``normalize``). Lower is better."""

    samples: int = Field(50, ge=1, description="noise draws per image")
    noise_std: float = Field(0.1, gt=0.0, description="standard deviation of the Gaussian input noise")
    normalise: bool = Field(False, description="scale the map by the optimal factor first")
    seed: int = Field(0, ge=0, description="seed of the noise (the same for every image)")

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        scorer = self.scorer(adapter)
        size = self.chunk(scorer, x)
        protocol = self.protocol(scorer) | {"noise": "gaussian, per pixel and channel", "n_queries": self.samples + 1}
        scores = []
        for b in range(x.shape[0]):
            generator = torch.Generator().manual_seed(self.seed)
            noise = torch.randn((self.samples, *x.shape[1:]), generator=generator) * self.noise_std
            image = x[b : b + 1].cpu()
            y = targets.fns[b](scorer(torch.cat([image, image - noise]), size)).double().cpu()
            drop = y[0] - y[1:]
            dot = (noise.double() * maps[b].double().cpu()).flatten(1).sum(1)
            if self.normalise:
                dot = dot * (dot * drop).mean() / (dot * dot).mean().clamp_min(1e-300)
            scores.append(
                Score(b, self.name, float(((dot - drop) ** 2).mean()), protocol | {"class": target_label(targets, b)})
            )
        return scores


@registry.register("faithfulness_correlation", paper="Bhatt et al. 2020 (faithfulness correlation)")
class FaithfulnessCorrelation(ModelMetric):
    """Pearson correlation, over ``runs`` random sets S of ``subset`` pixels, between Σ_S Φ and
    f(x) − f(x with S replaced by the substrate); a pixel is all its channels. Higher is better."""

    subset: int | float = Field(224, description="pixels per random set (int), or a fraction of the image")
    runs: int = Field(100, ge=2, description="random sets per image")
    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        default_factory=lambda: registry.build("substrate", {"name": "constant", "color": "black"}),
        description="what the pixels of a set become",
    )
    seed: int = Field(0, ge=0, description="seed of the random sets and substrate (the same for every image)")

    @field_validator("subset")
    @classmethod
    def _positive(cls, value: int | float) -> int | float:
        if value <= 0 or (isinstance(value, float) and value > 1):
            raise ValueError("subset must be a positive pixel count or a fraction in (0, 1]")
        return value

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        scorer = self.scorer(adapter)
        size = self.chunk(scorer, x)
        total = x.shape[-2] * x.shape[-1]
        count = max(1, round(self.subset * total)) if isinstance(self.subset, float) else min(self.subset, total)
        protocol = self.protocol(scorer) | {
            "pixels_per_set": count,
            "correlation": "pearson",
            "n_queries": self.runs + 1,
        }
        scores = []
        for b in range(x.shape[0]):
            generator = torch.Generator().manual_seed(self.seed)
            image = x[b].cpu()
            fill = self.substrate.bind(image, None, generator)
            sets = torch.rand((self.runs, total), generator=generator).argsort(dim=1)[:, :count]
            removed = (
                torch.zeros(self.runs, total, dtype=torch.bool).scatter_(1, sets, True).view(self.runs, *x.shape[-2:])
            )
            perturbed = torch.where(removed[:, None], fill((~removed).to(image.dtype)), image)
            y = targets.fns[b](scorer(torch.cat([image[None], perturbed]), size)).double().cpu()
            sums = (maps[b, 0].double().cpu().flatten()[None] * removed.flatten(1)).sum(1)
            scores.append(
                Score(b, self.name, pearson(sums, y[0] - y[1:]), protocol | {"class": target_label(targets, b)})
            )
        return scores


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation (NaN when either side is constant)."""
    a, b = a - a.mean(), b - b.mean()
    denominator = a.norm() * b.norm()
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")
