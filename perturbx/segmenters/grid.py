"""A regular grid of cells: hard, Gaussian-faded or bilinear (RISE) edges, optionally randomly shifted."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.segmenters.base import Segmenter
from perturbx.segmenters.segmentation import Segmentation, ShiftedGrid, shifted_cells


@register("grid", paper="Petsiuk et al. 2018 (RISE); Pihlgren & Främling 2024 (smooth-edged grids)")
class Grid(Segmenter):
    """``cells × cells`` features. ``edges``: ``hard`` cells, ``gaussian`` fade (``sigma`` px, default
    70/sqrt(M)), or ``bilinear`` tents. ``shift`` draws a random offset per sample as RISE does."""

    cells: int = Field(7, ge=1, le=256, description="cells per side (M = cells²)")
    edges: Literal["hard", "gaussian", "bilinear"] = Field("hard", description="mask edges")
    sigma: float | None = Field(None, gt=0, description="Gaussian fade in pixels (edges=gaussian); default 70/sqrt(M)")
    shift: bool = Field(False, description="random per-sample offset of the whole grid (RISE)")

    def segment(self, image: torch.Tensor, generator: torch.Generator) -> Segmentation:
        h, w = image.shape[-2:]
        s = self.cells
        if s > min(h, w):
            raise PerturbxError(f"grid: {s} cells per side do not fit a {h}x{w} image")
        if self.shift:
            return self._shifted(h, w, generator)
        if self.edges == "bilinear":
            tents = F.interpolate(torch.eye(s * s).view(-1, 1, s, s), size=(h, w), mode="bilinear", align_corners=False)
            masks = tents[:, 0]
            return Segmentation(masks.argmax(0), masks)
        rows = torch.arange(h) * s // h
        cols = torch.arange(w) * s // w
        labels = rows[:, None] * s + cols[None, :]
        sigma = self.sigma or 70.0 / math.sqrt(s * s)
        return Segmentation.from_labels(labels, sigma if self.edges == "gaussian" else 0.0)

    def _shifted(self, h: int, w: int, generator: torch.Generator) -> ShiftedGrid:
        if self.edges == "gaussian":
            raise PerturbxError("grid: shift=True supports edges 'hard' or 'bilinear', not 'gaussian'")
        s = self.cells
        cell = (math.ceil(h / s), math.ceil(w / s))
        seed = int(torch.randint(2**62, (1,), generator=generator))
        mode = "bilinear" if self.edges == "bilinear" else "nearest"
        centre = torch.tensor([[cell[0] // 2, cell[1] // 2]]).expand(s * s, 2)
        masks = shifted_cells(torch.eye(s * s), s, cell, mode, centre, (h, w))
        return ShiftedGrid(masks.argmax(0), masks, hard=mode == "nearest", cells=s, cell=cell, mode=mode, seed=seed)
