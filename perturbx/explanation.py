"""The result every explainer returns, whatever the method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from perturbx.segmenters.segmentation import Segmentation


@dataclass
class FeatureScores:
    """One image's per-feature scores and the segmentation whose features they score."""

    scores: torch.Tensor
    segmentation: Segmentation


@dataclass
class Explanation:
    """Maps ``[B,1,H,W]`` aligned with the input, plus what produced them.

    ``targets`` holds the explained class per image when the target is a class index (``None`` for
    callable targets); ``n_queries`` counts model evaluations (forward or forward+backward passes on
    single images); ``features`` is set by perturbation pipelines, one entry per image.
    """

    maps: torch.Tensor
    targets: torch.Tensor | None
    n_queries: int
    method: str
    features: list[FeatureScores] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.maps.shape[0]
