"""Guided IG: an adaptive path that moves the features with the smallest gradients first."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import Field

from perturbx.models.adapter import ModelAdapter
from perturbx.registry import register
from perturbx.targets import TargetSpec
from perturbx.wrappers.baselines import Baseline, check_baseline, make_baseline
from perturbx.wrappers.gradient_base import GradientExplainer, GradientRun

MAX_ROUNDS = 10_000


def guided_step(
    x: torch.Tensor, image: torch.Tensor, base: torch.Tensor, grad: torch.Tensor, progress: float,
    fraction: float, max_dist: float, l1_total: float,
) -> torch.Tensor:
    """Move ``x`` (in place) to L1 distance (1 − progress)·l1_total from the image, moving first the
    ``fraction`` of features with the smallest ``|gradient|`` and keeping every feature within
    ``max_dist`` of the straight path's progress; return the attribution increment Δx ⊙ grad."""
    attr = torch.zeros_like(x)
    lo, hi = max(progress - max_dist, 0.0), min(progress + max_dist, 1.0)
    delta = image - base
    x_min, x_max = base + lo * delta, base + hi * delta
    l1_target = l1_total * (1.0 - progress)
    moving = grad.clone()
    for _ in range(MAX_ROUNDS):
        old = x.clone()
        alpha = torch.where(delta != 0, (x - base) / torch.where(delta != 0, delta, 1), torch.full_like(x, hi))
        behind = alpha < lo
        x[behind] = x_min[behind]
        l1_now = float((x - image).abs().sum())
        if math.isclose(l1_target, l1_now, rel_tol=1e-9, abs_tol=1e-9):
            return attr + (x - old) * grad
        moving[x == x_max] = math.inf
        threshold = torch.quantile(moving.abs().flatten().double(), fraction, interpolation="lower")
        chosen = (moving.abs() <= threshold) & torch.isfinite(moving)
        l1_chosen = float(((x - x_max).abs() * chosen).sum())
        gamma = (l1_now - l1_target) / l1_chosen if l1_chosen > 0 else math.inf
        if gamma > 1.0:
            x[chosen] = x_max[chosen]
        else:
            x[chosen] = (x + gamma * (x_max - x))[chosen]
        attr += (x - old) * grad
        if gamma <= 1.0 or not chosen.any():
            break
    return attr


@register("guided_ig", paper="Kapishnikov et al. 2021, Guided Integrated Gradients (CVPR)")
class GuidedIG(GradientExplainer):
    """The path is chosen step by step from the gradients, so steps are sequential; each step
    evaluates all images' current points in one batch, and every image keeps its own path."""

    steps: int = Field(128, ge=1, description="path steps")
    fraction: float = Field(0.25, gt=0, le=1, description="share of features moved per round")
    max_dist: float = Field(0.02, ge=0, le=1, description="max deviation from the straight path's progress")
    baseline: Baseline = Field("image_min", description="name, number or tensor")
    blur_sigma: float = Field(10.0, gt=0, description="σ in pixels of the blur baseline")

    not_differentiable: ClassVar[str] = "its path is chosen by ranking gradients, a step function of the input"

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        check_baseline(self.baseline, x)

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        run.resolve(target)
        base = make_baseline(self.baseline, run.x, self.blur_sigma)
        current = base.clone()
        attr = torch.zeros_like(run.x)
        l1_totals = [float((run.x[b] - base[b]).abs().sum()) for b in range(len(run.x))]
        owners = list(range(len(run.x)))
        for step in range(self.steps):
            grads = torch.cat([run.gradients(chunk, owners[i : i + run.batch_size])
                               for i, chunk in zip(range(0, len(owners), run.batch_size),
                                                   current.split(run.batch_size))])
            for b in owners:
                if l1_totals[b] > 0:
                    attr[b] += guided_step(current[b], run.x[b], base[b], grads[b], (step + 1) / self.steps,
                                           self.fraction, self.max_dist, l1_totals[b])
        return attr
