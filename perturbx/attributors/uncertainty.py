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


def average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks ``1..P`` of ``values [P]`` in float64, tied values sharing their mean rank (Spearman's convention)."""
    order = values.argsort()
    _, inverse, counts = torch.unique_consecutive(values[order], return_inverse=True, return_counts=True)
    mean_rank = counts.cumsum(0).double() - (counts.double() - 1) / 2
    ranks = torch.empty(len(values), dtype=torch.float64, device=values.device)
    ranks[order] = mean_rank[inverse]
    return ranks


def centred_ranks(values: torch.Tensor) -> torch.Tensor:
    """Average ranks of the entries of ``values``, minus their mean."""
    ranks = average_ranks(values.flatten())
    return ranks - ranks.mean()


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two equally shaped tensors (NaN if either is constant)."""
    ra, rb = centred_ranks(a), centred_ranks(b)
    scale = float(ra.norm() * rb.norm())
    return float(ra @ rb) / scale if scale > 0 else math.nan


RANK_PIXELS = 16384  # rank correlations of larger maps use a regular subsample of this many entries or more


def rank_shortfall(estimate: torch.Tensor, draws: torch.Tensor) -> float:
    """``1 − ρ_s``, ``ρ_s`` the Spearman rank correlation the estimate ``[...]`` is expected to have with its
    converged value, from ``draws [K,...]`` (K >= 3) each distributed as the estimate's error ``e``.

    ``estimate + d₁`` and ``estimate − d₁`` carry errors ``e ± d₁``: uncorrelated, each of twice the estimate's
    variance, like two independent runs of half its size; adding ``√2·d₂`` and ``√2·d₃`` doubles that again.
    The two mean rank correlations give ``1 − ρ_s`` at a total error variance (of the difference of the two
    maps) of 4 and 8 times the estimate's, and the exponent ``γ`` with which it falls; the limit and the estimate
    differ by 1 time it, so ``1 − ρ_s = (1 − ρ₄)·4^−γ``. ``γ`` is 1 for maps whose values spread widely against
    their errors (Pearson's regime) and falls towards 0.5 and below where much of the map is nearly flat and its
    ranks are slow to settle; it is clamped to [0, 1]. 1 when the noise swamps the map, NaN if unknown."""
    if len(draws) < 3 or not torch.isfinite(draws).all():
        return math.nan
    estimate = estimate.double().flatten()
    draws = draws.double().reshape(len(draws), -1)
    step = max(1, len(estimate) // RANK_PIXELS)
    estimate, draws = estimate[::step], draws[:, ::step]
    if not draws.any():
        return 0.0

    def agreement(first: torch.Tensor, second: torch.Tensor) -> float:
        rho = spearman(first, second)
        return 0.0 if math.isnan(rho) else rho

    k = len(draws)
    half = sum(agreement(estimate + d, estimate - d) for d in draws) / k
    quarter = sum(
        agreement(estimate + draws[j] + 2**0.5 * draws[(j + 1) % k], estimate - draws[j] + 2**0.5 * draws[(j + 2) % k])
        for j in range(k)
    ) / k
    if half <= 0.0:
        return 1.0
    gamma = math.log2((1 - quarter) / (1 - half)) if quarter < 1.0 and half < 1.0 else 1.0
    return min(1.0, (1 - half) * 4 ** -min(1.0, max(0.0, gamma)))


def covariance_draws(covariance: torch.Tensor, count: int = 8) -> torch.Tensor:
    """``count`` Gaussian draws ``[count,M]`` with ``covariance`` (positive semi-definite, singular allowed), from
    a fixed seed: the same draws at every check, so the measure does not jitter with them."""
    if not torch.isfinite(covariance).all():
        return torch.full((count, covariance.shape[0]), math.nan, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(covariance.double())
    factor = vectors * values.clamp_min(0).sqrt()
    normal = torch.randn(count, len(values), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return normal @ factor.T.to(normal.device)


def pixel_draws(segmentation: Segmentation, covariance: torch.Tensor, count: int = 8) -> torch.Tensor:
    """Draws ``[count,H,W]`` of the pixel map's error, from the feature scores' ``covariance``."""
    draws = covariance_draws(covariance, count).to(segmentation.masks.device)
    return segmentation.combine(draws.to(segmentation.masks.dtype))


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
