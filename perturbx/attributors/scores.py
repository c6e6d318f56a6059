"""Shared pieces of attributors that need every (Z, Y) pair: a score collector with standard errors and
design look-ups."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from perturbx.attributors.base import Accumulator, Attribution
from perturbx.attributors.uncertainty import (
    centred_noise,
    correlation_shortfall,
    influence_covariance,
    pixel_draws,
    project_variance,
    rank_shortfall,
    relative_error,
)
from perturbx.errors import PerturbxError
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


@dataclass
class Estimate:
    """Feature scores ``[M]`` and their per-row influence ``[N,M]``: to first order the estimate's error is
    ``Σ_n influence[n]``, which gives its covariance over the design's independent draws. ``influence``
    is ``None`` where the method has no error estimate."""

    scores: torch.Tensor
    influence: torch.Tensor | None = None


class ScoreCollector(Accumulator):
    """Keeps the scores seen so far (never masks or images); ``solve(y [n] float64)`` gives the feature
    scores (a tensor, or an :class:`Estimate` with their influence) from the first ``n`` rows of the
    design, which are projected to pixels through the segmentation's soft masks."""

    def __init__(
        self, segmentation: Segmentation, solve: Callable[[torch.Tensor], torch.Tensor | Estimate],
        coalitions: Coalitions | None = None,
    ) -> None:
        self.segmentation, self.solve = segmentation, solve
        self.fixed = coalitions is not None and coalitions.fixed
        self.groups = coalitions.group_ids() if coalitions is not None else None
        self.chunks: list[torch.Tensor] = []
        self.solved: tuple[int, tuple[torch.Tensor, torch.Tensor | None]] | None = None  # rows seen, estimate

    def update(self, z: torch.Tensor, keep: torch.Tensor, y: torch.Tensor) -> None:
        self.chunks.append(y.detach().double().cpu())

    def estimate(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Feature scores and their covariance ``[M,M]`` (zero for fixed designs, ``None`` if unknown). Solved once
        per prefix: a checkpoint asks for its result and several error measures of the same rows."""
        rows = sum(len(chunk) for chunk in self.chunks)
        if self.solved is None or self.solved[0] != rows:
            self.solved = rows, self._estimate()
        return self.solved[1]

    def _estimate(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        y = torch.cat(self.chunks) if self.chunks else torch.zeros(0, dtype=torch.float64)
        solved = self.solve(y)
        estimate = solved if isinstance(solved, Estimate) else Estimate(solved)
        scores = estimate.scores.double()
        if self.fixed:
            return scores, torch.zeros(len(scores), len(scores), dtype=torch.float64)
        if estimate.influence is None:
            return scores, None
        groups = self.groups if self.groups is not None else torch.arange(len(y))
        return scores, influence_covariance(estimate.influence, groups)

    def error(self, measure: str = "range") -> float:
        scores, covariance = self.estimate()
        if measure == "correlation":
            return correlation_shortfall(scores, math.nan if covariance is None else centred_noise(covariance))
        if measure == "rank":
            if covariance is None:
                return math.nan
            pixels = self.segmentation.project(scores.float().to(self.segmentation.masks.device))
            return rank_shortfall(pixels, pixel_draws(self.segmentation, covariance))
        return relative_error(scores, None if covariance is None else covariance.diagonal().clamp_min(0).sqrt())

    def result(self) -> Attribution:
        scores, covariance = self.estimate()
        features = scores.float()
        pixels = self.segmentation.project(features.to(self.segmentation.masks.device))
        if covariance is None:
            return Attribution(features, pixels)
        stderr = covariance.diagonal().clamp_min(0).sqrt().float()
        pixel_stderr = project_variance(self.segmentation, covariance).sqrt().float()
        return Attribution(features, pixels, features_stderr=stderr, pixels_stderr=pixel_stderr)


def single_rows(z: torch.Tensor, kept: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of a 0/1 design that keep exactly one feature (``kept``) or remove exactly one, and which
    feature that is: ``(row indices, feature indices)``."""
    binary = ((z == 0) | (z == 1)).all(1)
    marked = (z == 1) if kept else (z == 0)
    rows = torch.nonzero(binary & (marked.sum(1) == 1)).flatten()
    return rows, marked[rows].float().argmax(1)


def per_feature_mean(y: torch.Tensor, rows: torch.Tensor, features: torch.Tensor, n_features: int) -> torch.Tensor:
    """Mean of ``y[rows]`` grouped by ``features`` (features with no row get NaN)."""
    total = torch.zeros(n_features, dtype=torch.float64).index_add_(0, features, y[rows].double())
    count = torch.bincount(features, minlength=n_features).double()
    return total / count


def require_single_rows(z: torch.Tensor, kept: bool, who: str) -> None:
    """Raise unless every feature has a keep-only-it (``kept``) or remove-only-it row."""
    _, features = single_rows(z, kept)
    missing = sorted(set(range(z.shape[1])) - set(features.tolist()))
    if missing:
        what = "keeps only that feature" if kept else "removes only that feature"
        fix = "sampler single with inverse=true" if kept else "sampler single (leave-one-out)"
        raise PerturbxError(
            f"attributor {who}: needs, for every feature, a coalition that {what}; features {missing[:10]}"
            f"{'...' if len(missing) > 10 else ''} have none (use the {fix})"
        )


def empty_rows(z: torch.Tensor) -> torch.Tensor:
    """Indices of the rows that remove every feature."""
    return torch.nonzero((z == 0).all(1)).flatten()


def mean_influence(values: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted means ``Σ_n w_nj·v_n / Σ_n w_nj`` of ``values [N]`` per column of ``weights [N,M]`` and their
    influence ``w_nj·(v_n − mean_j) / Σ_n w_nj`` (ratio estimators such as PDA's feature-removed means)."""
    values, weights = values.double(), weights.double()
    total = weights.sum(0)
    mean = (values @ weights) / total
    return mean, weights * (values[:, None] - mean) / total
