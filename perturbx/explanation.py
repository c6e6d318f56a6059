"""The result every explainer returns, whatever the method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from perturbx.segmenters.segmentation import Segmentation


@dataclass
class FeatureScores:
    """One image's per-feature scores, the segmentation whose features they score, and the scores'
    standard errors (``None`` where the method has no error estimate)."""

    scores: torch.Tensor
    segmentation: Segmentation
    stderr: torch.Tensor | None = None


@dataclass
class Explanation:
    """Maps ``[B,1,H,W]`` aligned with the input, plus what produced them.

    ``targets`` holds the explained class per image when the target is a class index (``None`` for
    callable targets); ``n_queries`` counts model evaluations (forward or forward+backward passes on
    single images); ``features`` is set by perturbation pipelines, one entry per image.

    Sampled methods also report, per image, the standard error of every pixel of the map (``stderr``,
    ``[B,1,H,W]``: ``maps ± 1.96·stderr`` is a 95% interval, exactly 0 for fixed designs), the model
    queries spent (``queries [B]``), the achieved error (``error [B]``: the stopping rule's measure, by default
    the relative error ``max(stderr) / (max − min)``) and, under a stopping rule, whether it fell below the
    tolerance (``converged [B]``).
    Methods without an error estimate leave these ``None``.
    """

    maps: torch.Tensor
    targets: torch.Tensor | None
    n_queries: int
    method: str
    features: list[FeatureScores] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    stderr: torch.Tensor | None = None
    queries: torch.Tensor | None = None
    error: torch.Tensor | None = None
    converged: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.maps.shape[0]
