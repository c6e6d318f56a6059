"""Blur IG: integrated gradients along a path of decreasing Gaussian blur (scale space)."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.perturb.filters import gaussian_kernel
from perturbx.registry import register
from perturbx.targets import TargetSpec
from perturbx.wrappers.gradient_base import GradientExplainer, GradientRun


def blur_matrices(n: int, sigmas: list[float], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[k,n,n]`` matrices applying a 1-D Gaussian of each σ along an axis of length ``n`` (σ = 0:
    identity), borders reflected — replicated when the widest kernel is wider than the axis."""
    sizes = [2 * int(torch.ceil(torch.tensor(3.0 * s))) + 1 if s > 0 else 1 for s in sigmas]
    width = max(sizes)
    kernels = torch.zeros(len(sigmas), width, device=device, dtype=dtype)
    for row, (sigma, size) in enumerate(zip(sigmas, sizes)):
        start = (width - size) // 2
        kernels[row, start : start + size] = gaussian_kernel(sigma, size, device).to(dtype) if sigma > 0 else 1.0
    pad = width // 2
    taps = torch.arange(n, device=device)[:, None] + torch.arange(width, device=device)[None] - pad
    if pad < n:
        taps = taps.abs()
        taps = torch.where(taps > n - 1, 2 * (n - 1) - taps, taps)
    else:
        taps = taps.clamp(0, n - 1)
    matrices = torch.zeros(len(sigmas), n, n, device=device, dtype=dtype)
    src = kernels[:, None, :].expand(len(sigmas), n, width)
    return matrices.scatter_add_(2, taps.expand(len(sigmas), n, width), src)


def blur_stack(image: torch.Tensor, sigmas: list[float]) -> torch.Tensor:
    """``image [C,H,W]`` blurred with each σ in ``sigmas``: ``[k,C,H,W]`` by two batched matrix products."""
    _, h, w = image.shape
    rows = blur_matrices(h, sigmas, image.device, image.dtype)
    cols = blur_matrices(w, sigmas, image.device, image.dtype)
    return rows[:, None] @ image[None] @ cols[:, None].transpose(-1, -2)


@register("blur_ig", paper="Xu et al. 2020, Attribution in Scale and Space (CVPR)")
class BlurIG(GradientExplainer):
    """Σ_i −Δσ · (∂x(σ_i)/∂σ) ⊙ ∇f(x(σ_i)) for σ_i = i·max_sigma/steps, x(σ) the image blurred with σ
    and ∂x/∂σ a forward difference with ``grad_step``; attributions sum to about f(x) − f(x(max_sigma)).
    Every image follows its own blur path; path points of all images are batched together."""

    steps: int = Field(100, ge=1, description="points on the blur path")
    max_sigma: float = Field(50.0, gt=0, description="blur of the path's start, in pixels")
    grad_step: float = Field(0.01, gt=0, description="σ step of the finite difference ∂x/∂σ")

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        run.resolve(target)
        sigmas = [i * self.max_sigma / self.steps for i in range(self.steps + 1)]

        def make(b: int, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            at = [sigmas[i] for i in idx.tolist()]
            both = blur_stack(run.x[b], at + [s + self.grad_step for s in at])
            points, ahead = both[: len(at)], both[len(at) :]
            steps = torch.tensor([sigmas[i + 1] - sigmas[i] for i in idx.tolist()], dtype=points.dtype)
            return points, -steps.to(points.device)[:, None, None, None] * (ahead - points) / self.grad_step

        (total,) = run.integrate(self.steps, make)
        return total
