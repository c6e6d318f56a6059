"""Integrated Gradients with Riemann or Gauss-Legendre quadrature, all steps batched."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from perturbx.errors import PerturbxError
from perturbx.models.adapter import ModelAdapter
from perturbx.registry import register
from perturbx.targets import TargetSpec
from perturbx.wrappers.baselines import Baseline, check_baseline, make_baseline
from perturbx.wrappers.gradient_base import GradientExplainer, GradientRun

Rule = Literal["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"]


def quadrature(n: int, rule: Rule) -> tuple[torch.Tensor, torch.Tensor]:
    """Points α in [0,1] and weights for ∫₀¹ f(α) dα with ``n`` evaluations (weights sum to 1)."""
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return torch.tensor(0.5 * (nodes + 1)), torch.tensor(0.5 * weights)
    if n < 2:
        raise PerturbxError(f"steps: the {rule} rule needs at least 2 steps, got {n}")
    if rule == "riemann_trapezoid":  # n points spaced 1/(n-1); Captum's weights (1/n) sum to 1 - 1/n instead
        weights = torch.full((n,), 1.0 / (n - 1), dtype=torch.float64)
        weights[0] = weights[-1] = 0.5 / (n - 1)
        return torch.linspace(0, 1, n, dtype=torch.float64), weights
    weights = torch.full((n,), 1.0 / n, dtype=torch.float64)
    start = {"riemann_left": 0.0, "riemann_middle": 0.5 / n, "riemann_right": 1.0 / n}[rule]
    return start + torch.arange(n, dtype=torch.float64) / n, weights


def path_integral(run: GradientRun, baseline: torch.Tensor, steps: int, rule: Rule) -> torch.Tensor:
    """(x − x') ⊙ Σ_i w_i ∇f(x' + α_i (x − x')) per image."""
    alphas, weights = quadrature(steps, rule)
    delta = run.x - baseline

    def make(b: int, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = alphas[idx].to(run.x.device, run.x.dtype)[:, None, None, None]
        w = weights[idx].to(run.x.device, run.x.dtype)[:, None, None, None]
        return baseline[b] + a * delta[b], w

    (total,) = run.integrate(steps, make)
    return delta * total


@register("integrated_gradients", paper="Sundararajan et al. 2017, Axiomatic Attribution for Deep Networks (ICML)")
class IntegratedGradients(GradientExplainer):
    """Attributions sum to f(x) − f(baseline) up to the quadrature error (completeness); the map is
    the signed channel sum by default. Baselines: zeros, image_min/image_max (each image's min/max), blur,
    a number, or a custom image tensor."""

    steps: int = Field(128, ge=1, description="points on the straight path")
    rule: Rule = Field("gausslegendre", description="quadrature rule (Captum's names)")
    baseline: Baseline = Field("image_min", description="name, number or tensor")
    blur_sigma: float = Field(10.0, gt=0, description="σ in pixels of the blur baseline")

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        check_baseline(self.baseline, x)
        quadrature(self.steps, self.rule)

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        run.resolve(target)
        return path_integral(run, make_baseline(self.baseline, run.x, self.blur_sigma), self.steps, self.rule)
