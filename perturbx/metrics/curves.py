"""Ordered removal and insertion curves, batched: every point of every image goes through the model in
large chunks, and each perturbed image is made only when its chunk is due."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from perturbx.models.adapter import ModelAdapter
from perturbx.substrates.base import Fill
from perturbx.targets import ScoreFn


def unit_ranks(scores: torch.Tensor, descending: bool) -> torch.Tensor:
    """Position of each unit in the order of ``scores`` (0 = changed first); ties go to the lower index."""
    order = torch.argsort(-scores if descending else scores, stable=True)
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(order.numel(), device=order.device)
    return ranks


def pixel_ranks(saliency: torch.Tensor, descending: bool = True) -> torch.Tensor:
    """``[H,W]`` rank of every pixel of a ``[H,W]`` map (row-major index breaks ties)."""
    return unit_ranks(saliency.flatten(), descending).view(saliency.shape)


def region_ranks(saliency: torch.Tensor, labels: torch.Tensor, reduce: str, descending: bool = True) -> torch.Tensor:
    """``[H,W]`` rank of the region of every pixel; a region scores the ``mean`` or ``sum`` of its saliency."""
    labels = labels.to(saliency.device).long()
    n = int(labels.max()) + 1
    sums = torch.zeros(n, device=saliency.device).index_add_(0, labels.flatten(), saliency.flatten().float())
    if reduce == "mean":
        sums = sums / torch.bincount(labels.flatten(), minlength=n).clamp_min(1)
    return unit_ranks(sums, descending)[labels]


def patch_labels(shape: tuple[int, int], size: int) -> torch.Tensor:
    """``[H,W]`` labels of square ``size``-pixel patches in row-major order (partial patches at the edges)."""
    h, w = shape
    rows, cols = torch.arange(h) // size, torch.arange(w) // size
    return rows[:, None] * (-(-w // size)) + cols[None, :]


def step_counts(total: int, step: int | float) -> torch.Tensor:
    """Units changed at each point: 0, step, 2·step, … and finally ``total`` (``step`` < 1 is a fraction)."""
    size = max(1, round(step * total)) if isinstance(step, float) else int(step)
    counts = torch.arange(0, total + 1, size)
    return counts if counts[-1] == total else torch.cat([counts, torch.tensor([total])])


def even_counts(total: int, points: int) -> torch.Tensor:
    """``points`` counts evenly spaced from 0 to ``total`` units, rounded to whole units."""
    return torch.linspace(0, total, points, dtype=torch.float64).round().long()


@dataclass
class CurveJob:
    """One curve of one image.

    ``rank [H,W]`` orders the pixels' units; at point ``p`` the pixels with ``rank < counts[p]`` are
    changed. Deletion: changed pixels take the fill. Insertion (``insert``): the image starts as the
    fill and changed pixels take the image. ``fill(keep [n,H,W])`` is a substrate bound to the image.
    """

    image: torch.Tensor
    rank: torch.Tensor
    counts: torch.Tensor
    score: ScoreFn
    fill: Fill
    insert: bool = False

    def images(self, points: torch.Tensor) -> torch.Tensor:
        """The perturbed images ``[n,C,H,W]`` of the curve points ``points``."""
        changed = self.rank[None] < self.counts[points].to(self.rank.device)[:, None, None]
        keep = changed if self.insert else ~changed
        return torch.where(keep[:, None], self.image, self.fill(keep.to(self.image.dtype)))


def run_curves(adapter: ModelAdapter, jobs: list[CurveJob], batch_size: int) -> list[torch.Tensor]:
    """Scores ``[P]`` of every job's points; chunks of ``batch_size`` images may span several jobs."""
    rows = [(j, p) for j, job in enumerate(jobs) for p in range(len(job.counts))]
    curves = [torch.empty(len(job.counts)) for job in jobs]
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            spans = [(j, torch.tensor([p for _, p in group]))
                     for j, group in itertools.groupby(rows[start:start + batch_size], key=lambda r: r[0])]
            parts = [jobs[j].images(points) for j, points in spans]
            out = adapter.forward(parts[0] if len(parts) == 1 else torch.cat(parts))
            offset = 0
            for j, points in spans:
                curves[j][points] = jobs[j].score(out[offset:offset + len(points)]).float().cpu()
                offset += len(points)
    return curves


def trapezoid(y: torch.Tensor, x: torch.Tensor) -> float:
    """Area under ``y(x)`` by the trapezoid rule."""
    return float(torch.trapezoid(y.double(), x.double()))
