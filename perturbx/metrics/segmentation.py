"""Maps as foreground segmentations of the ground-truth masks: pixel accuracy, mean IoU and average
precision, as in the segmentation tables of Chefer et al. 2021 and IIA (Barkan et al. 2023)."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field

from perturbx import registry
from perturbx.metrics.localisation import _Localisation

Level = Annotated[float, Field(ge=0.0, le=1.0)] | Literal["mean"]


def foreground(saliency: torch.Tensor, threshold: float | str) -> torch.Tensor:
    """The map min-max scaled to [0,1] and thresholded (``>``) at its mean or at a fixed level."""
    span = saliency.max() - saliency.min()
    scaled = (saliency - saliency.min()) / span if span > 0 else torch.zeros_like(saliency)
    level = scaled.mean() if threshold == "mean" else threshold
    return scaled > level


def average_precision(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Σ_k (R_k − R_{k−1}) P_k over the distinct score thresholds, highest first (scikit-learn's
    ``average_precision_score``: a step-wise area under the precision-recall curve, no interpolation)."""
    order = torch.argsort(scores.flatten(), descending=True, stable=True)
    s, y = scores.flatten()[order], positive.flatten()[order].double()
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]  # the end of each group of tied scores
    tp = torch.cumsum(y, 0)[last]
    seen = (torch.nonzero(last).flatten() + 1).double()
    precision, recall = tp / seen, tp / y.sum()
    steps = torch.diff(recall, prepend=torch.zeros(1, dtype=recall.dtype))
    return float((steps * precision).sum())


class _Segmentation(_Localisation):
    """A map thresholded into foreground and compared with the region mask; no model queries."""

    threshold: Level = Field("mean", description="level in [0,1] on the min-max scaled map, or its mean")


@registry.register(
    "pixel_accuracy",
    paper="Chefer et al. 2021 (Transformer Interpretability Beyond Attention "
    "Visualization); Barkan et al. 2023 (IIA), segmentation tests",
)
class PixelAccuracy(_Segmentation):
    """Share of pixels whose foreground/background label (map > threshold) agrees with the mask."""

    def value(self, saliency: torch.Tensor, region: torch.Tensor) -> float:
        return float((foreground(saliency, self.threshold) == region).double().mean())


@registry.register("mean_iou", paper="Chefer et al. 2021; Barkan et al. 2023 (IIA), segmentation tests")
class MeanIoU(_Segmentation):
    """Mean over the two classes (foreground, background) of ``|prediction ∩ mask| / |prediction ∪ mask|``,
    per image (the papers pool intersections and unions over the data set before dividing)."""

    def value(self, saliency: torch.Tensor, region: torch.Tensor) -> float:
        predicted = foreground(saliency, self.threshold)
        ious = []
        for p, t in ((predicted, region), (~predicted, ~region)):
            union = (p | t).sum()
            ious.append(float((p & t).sum() / union) if union > 0 else 1.0)
        return sum(ious) / 2


@registry.register("segmentation_ap", paper="Chefer et al. 2021; Barkan et al. 2023 (IIA), segmentation mAP")
class SegmentationAP(_Localisation):
    """Average precision of the map's values ranking the mask's pixels first (no threshold); the mean of
    the rows over images is the papers' mAP."""

    relevance: Literal["signed", "absolute"] = Field("signed", description="rank by the map or by its magnitude")

    def value(self, saliency: torch.Tensor, region: torch.Tensor) -> float:
        return average_precision(saliency.abs() if self.relevance == "absolute" else saliency, region)
