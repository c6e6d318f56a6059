"""Shared pieces of attributors that need every (Z, Y) pair: a score collector and design look-ups."""

from __future__ import annotations

from collections.abc import Callable

import torch

from perturbx.attributors.base import Accumulator, Attribution
from perturbx.errors import PerturbxError
from perturbx.segmenters.segmentation import Segmentation


class ScoreCollector(Accumulator):
    """Keeps the N scores (never masks or images); ``solve(y [N] float64)`` gives the feature scores,
    which are projected to pixels through the segmentation's soft masks."""

    def __init__(self, segmentation: Segmentation, solve: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.segmentation, self.solve = segmentation, solve
        self.chunks: list[torch.Tensor] = []

    def update(self, z: torch.Tensor, keep: torch.Tensor, y: torch.Tensor) -> None:
        self.chunks.append(y.detach().double().cpu())

    def result(self) -> Attribution:
        y = torch.cat(self.chunks) if self.chunks else torch.zeros(0, dtype=torch.float64)
        features = self.solve(y).float()
        return Attribution(features, self.segmentation.project(features.to(self.segmentation.masks.device)))


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
