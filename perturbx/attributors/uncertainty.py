"""Standard errors of sampled attributions: first-order (influence) covariances over independent draws."""

from __future__ import annotations

import math

import torch

from perturbx.segmenters.segmentation import Segmentation


def group_sums(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Sum the rows of ``values [N,...]`` that share a group id (``groups [N]`` non-decreasing from 0, each id
    present): differences of the running sum at the group ends (far faster than a scatter on the CPU)."""
    if len(groups) == 0:
        return values[:0]
    groups = groups.to(values.device)
    ends = torch.nonzero(torch.diff(groups, append=groups[-1:] + 1)).flatten()
    running = values.cumsum(0)[ends]
    return torch.cat([running[:1], running.diff(dim=0)])


def influence_covariance(influence: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Covariance ``[M,M]`` of an estimate whose error is, to first order, ``Σ_n influence[n]`` over rows
    ``[N,M]`` drawn in independent groups: ``G/(G−1)·Σ_g (U_g − Ū)(U_g − Ū)ᵀ`` with ``U_g`` the group sums
    (the cluster-robust sandwich). NaN with fewer than two groups, where no error can be estimated."""
    totals = group_sums(influence.double(), groups[: len(influence)])
    g = totals.shape[0]
    if g < 2:
        return torch.full((influence.shape[1],) * 2, math.nan, dtype=torch.float64)
    centred = totals - totals.mean(0)
    return centred.T @ centred * (g / (g - 1))


def project_variance(segmentation: Segmentation, covariance: torch.Tensor) -> torch.Tensor:
    """Variance ``[H,W]`` of the per-pixel map ``segmentation.project(scores)`` given the scores' covariance."""
    if segmentation.hard:
        return covariance.diagonal().to(segmentation.labels.device)[segmentation.labels]
    weights = segmentation.weights().double()
    covariance = covariance.to(weights.device)
    return ((covariance @ weights) * weights).sum(0).clamp_min(0).view(segmentation.shape)


def correlation_shortfall(estimate: torch.Tensor, noise: float) -> float:
    """``1 − ρ``, ``ρ = sqrt(1 − noise / variance of the estimate's entries)``: the correlation the estimate is
    expected to have with its converged value, ``noise`` being the mean squared error of the entries about
    their own mean (the part of the error shared by all entries moves no rank). NaN if unknown."""
    if math.isnan(noise):
        return math.nan
    if noise <= 0.0:
        return 0.0
    spread = float(estimate.double().var(unbiased=False))
    return 1.0 - math.sqrt(1.0 - noise / spread) if spread > noise else 1.0


def centred_noise(covariance: torch.Tensor) -> float:
    """Mean squared error of entries about their mean, from their covariance: ``(tr C − 1ᵀC1 / M) / M``."""
    m = covariance.shape[0]
    return float((covariance.trace() - covariance.sum() / m) / m)


def relative_error(estimate: torch.Tensor, stderr: torch.Tensor | None) -> float:
    """Covert & Lee's convergence measure ``max(stderr) / (max − min of the estimate)`` (NaN if unknown)."""
    if stderr is None or stderr.numel() == 0:
        return math.nan
    worst = float(stderr.max())
    spread = float(estimate.max() - estimate.min())
    if worst == 0.0:
        return 0.0
    return worst / spread if spread > 0 else math.inf
