"""Smooth mask edges shared by every segmenter: hard, Gaussian fade, or bilinear (linear ramp)."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from perturbx.errors import PerturbxError
from perturbx.perturb.filters import gaussian_blur

Edges = Literal["hard", "gaussian", "bilinear"]


def soften(masks: torch.Tensor, edges: Edges, sigma: float | None = None, width: int | None = None) -> torch.Tensor:
    """Smooth-edged copies of hard masks ``[M,H,W]``; every pixel's masks still sum to 1.

    ``gaussian``: a Gaussian fade of ``sigma`` px (default ``70/sqrt(M)``, the perturbation-pipeline
    paper's choice). ``bilinear``: a linear ramp ``width`` px wide across every border, i.e. a box
    filter (default width: the mean segment side ``sqrt(HW/M)``); on a grid with ``width`` = cell size
    this is the bilinear tent of upsampled cells. ``hard`` returns the masks unchanged.
    """
    m, h, w = masks.shape
    if edges == "hard":
        return masks
    if edges == "gaussian":
        return gaussian_blur(masks[None], sigma or 70.0 / math.sqrt(m))[0]
    if edges == "bilinear":
        return box_blur(masks, width or max(1, round(math.sqrt(h * w / m))))
    raise PerturbxError(f"edges: expected one of 'hard', 'gaussian', 'bilinear', got {edges!r}")


def box_blur(masks: torch.Tensor, width: int) -> torch.Tensor:
    """Mean over a ``width × width`` window, borders replicated: ``[M,H,W]`` -> ``[M,H,W]``."""
    before, after = (width - 1) // 2, width // 2
    x = F.pad(masks[:, None], (before, after, before, after), mode="replicate")
    x = F.avg_pool2d(x, (1, width), stride=1)
    return F.avg_pool2d(x, (width, 1), stride=1)[:, 0]
