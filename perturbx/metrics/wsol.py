"""Weakly-supervised object localisation from maps: the box around the largest connected region above
a threshold, scored by IoU against the ground-truth boxes (Choe et al., CVPR 2020)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import numpy as np
import torch
from pydantic import Field
from scipy import ndimage

from perturbx import registry
from perturbx.errors import PerturbxError
from perturbx.metrics.base import Curve, Metric, MetricContext, Score, check_regions, target_label
from perturbx.models.adapter import ModelAdapter
from perturbx.targets import Targets

Box = tuple[int, int, int, int]  # top, left, bottom, right: inclusive pixel indices


def box_of(mask: np.ndarray) -> Box:
    """The tightest box around the ``True`` pixels of a non-empty mask."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def component_boxes(mask: np.ndarray) -> list[Box]:
    """One box per 8-connected component of a mask (ground truth: one box per object)."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    return [box_of(labels == k) for k in range(1, n + 1)]


def largest_component_box(mask: np.ndarray) -> Box | None:
    """The box around the largest 8-connected component (by pixel count); ``None`` for an empty mask."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    return box_of(labels == 1 + int(sizes.argmax()))


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two inclusive pixel boxes (areas count pixels, hence the +1)."""
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, bottom - top + 1) * max(0, right - left + 1)
    area = lambda box: (box[2] - box[0] + 1) * (box[3] - box[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def normalised(saliency: torch.Tensor) -> np.ndarray:
    """The map min-max scaled to [0,1] (a constant map becomes all zeros)."""
    s = saliency.double().cpu().numpy()
    span = s.max() - s.min()
    return (s - s.min()) / span if span > 0 else np.zeros_like(s)


def best_iou(saliency: np.ndarray, threshold: float, truth: list[Box]) -> float:
    """IoU of the estimated box at ``threshold`` with the closest ground-truth box (0 if no pixel passes)."""
    box = largest_component_box(saliency >= threshold)
    return 0.0 if box is None else max(box_iou(box, t) for t in truth)


class _BoxMetric(Metric):
    """Maps against the boxes of the ground-truth regions' connected components (masks, or filled boxes)."""

    requires: ClassVar[tuple[str, ...]] = ("regions",)

    iou: float = Field(0.5, gt=0.0, le=1.0, description="IoU at which a box counts as correct")

    def ious(self, maps: torch.Tensor, regions: torch.Tensor, thresholds: np.ndarray) -> np.ndarray:
        """IoU ``[B, thresholds]`` of every image's estimated box at every threshold."""
        out = np.zeros((maps.shape[0], len(thresholds)))
        for b in range(maps.shape[0]):
            truth = component_boxes(regions[b].cpu().numpy())
            saliency = normalised(maps[b, 0])
            out[b] = [best_iou(saliency, t, truth) for t in thresholds]
        return out


@registry.register(
    "max_box_accuracy",
    paper="Choe et al. 2020, Evaluating Weakly Supervised Object Localization Methods Right (CVPR), MaxBoxAcc",
)
class MaxBoxAccuracy(_BoxMetric):
    """GT-known localisation at the best threshold: for τ in 0, 1/n, …, (n−1)/n on min-max normalised
    maps, an image is correct when the box around the largest connected region with map ≥ τ has IoU
    ≥ ``iou`` with a ground-truth box. τ is chosen to maximise the share of correct images among the
    images scored together (everything given to ``px.evaluate`` at once), so the mean of the rows is
    MaxBoxAcc; the chosen τ is in ``threshold``. Scored in parts (experiments score chunks), that is
    each part's own best, an upper bound: MaxBoxAcc is then the maximum of the mean of the per-image
    curves (correct or not at each τ, in ``curve``), see :func:`max_box_accuracy_of`. A fixed
    ``threshold`` scores every image at that τ instead (BoxAcc(τ))."""

    n_thresholds: int = Field(100, ge=1, description="thresholds τ = k / n_thresholds, k = 0 … n−1")
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        None, description="a fixed τ in [0,1]; None: the best τ over the images scored together"
    )

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        regions = check_regions(context.regions, x)
        thresholds = np.arange(self.n_thresholds) / self.n_thresholds
        hits = self.ious(maps, regions, thresholds) >= self.iou - 1e-12
        if self.threshold is None:
            best = int(hits.mean(axis=0).argmax())
            tau, values = float(thresholds[best]), hits[:, best]
        else:
            tau = self.threshold
            values = self.ious(maps, regions, np.array([tau]))[:, 0] >= self.iou - 1e-12
        protocol = self.protocol() | {"n_queries": 0, "threshold": tau, "threshold_over_images": x.shape[0]}
        axis = torch.from_numpy(thresholds)
        return [
            Score(
                b,
                self.name,
                float(values[b]),
                protocol | {"class": target_label(targets, b)},
                Curve(axis, torch.from_numpy(hits[b].astype(np.float64)), "threshold τ"),
            )
            for b in range(x.shape[0])
        ]


def max_box_accuracy_of(curves: list[Curve]) -> tuple[float, float]:
    """MaxBoxAcc and its τ from per-image ``max_box_accuracy`` curves (e.g. an experiment's stored curves)."""
    mean = torch.stack([c.y for c in curves]).mean(dim=0)
    best = int(mean.argmax())
    return float(mean[best]), float(curves[0].x[best])


@registry.register("top1_localisation", paper="Zhou et al. 2016 (CAM), top-1 localisation; Choe et al. 2020")
class Top1Localisation(_BoxMetric):
    """1 when the model's top-1 class is the target (pass the true labels as the target) and the box at
    ``threshold`` (on the min-max normalised map) has IoU ≥ ``iou`` with a ground-truth box, else 0.
    One inference pass over the images."""

    threshold: float = Field(0.2, ge=0.0, le=1.0, description="box threshold on the normalised map (CAM: 0.2)")

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        if targets.classes is None:
            raise PerturbxError(
                "target: top-1 localisation compares the top-1 class with class-index targets "
                "(the true labels), not callables"
            )
        regions = check_regions(context.regions, x)
        ious = self.ious(maps, regions, np.array([self.threshold]))[:, 0]
        predicted = adapter(x).argmax(dim=1).cpu()
        protocol = self.protocol(adapter) | {"n_queries": x.shape[0]}
        rows = []
        for b in range(x.shape[0]):
            correct = targets.classes is not None and int(predicted[b]) == int(targets.classes[b])
            rows.append(
                Score(
                    b,
                    self.name,
                    float(correct and ious[b] >= self.iou - 1e-12),
                    protocol | {"class": target_label(targets, b), "iou_value": float(ious[b])},
                )
            )
        return rows
