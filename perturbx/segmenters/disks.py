"""Overlapping disks on a regular grid: PAMI's sliding-window features."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from pydantic import Field

from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.segmenters.base import Segmenter
from perturbx.segmenters.segmentation import Segmentation


@dataclass
class UnionSegmentation(Segmentation):
    """Overlapping features kept by union: a pixel is kept if any kept feature covers it
    (``keep = 1 − Π_m (1 − z_m)^{mask_m}``, exact for 0/1 coalitions), so keeping one disk keeps all of it."""

    def keep_masks(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        log_removed = torch.log((1 - z).clamp_min(1e-30)) @ self.masks.flatten(1)
        return (1 - torch.exp(log_removed)).view(-1, *self.shape)


@register("disks", paper="Shi et al. 2024 (PAMI, sliding-window variant)")
class Disks(Segmenter):
    """A disk of ``radius`` px around every point of a ``stride`` px grid; disks overlap, and every
    pixel must lie in one. With ``single`` (``inverse``) and the ``pami`` attributor each pixel gets the
    mean score of the disks covering it."""

    radius: float = Field(40.0, gt=0.0, description="disk radius in pixels")
    stride: int = Field(6, ge=1, description="distance between disk centres in pixels")

    def segment(self, image: torch.Tensor, generator: torch.Generator) -> Segmentation:
        h, w = image.shape[-2:]
        reach = math.hypot(*(_largest_gap(n, self.stride) for n in (h, w)))
        if self.radius < reach:
            raise PerturbxError(f"disks: radius {self.radius} leaves pixels outside every disk at stride "
                                f"{self.stride}; use radius >= {reach:.2f}")
        rows, cols = torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32)
        centres = torch.cartesian_prod(torch.arange(0, h, self.stride), torch.arange(0, w, self.stride)).float()
        dy = rows[None, :, None] - centres[:, 0, None, None]
        dx = cols[None, None, :] - centres[:, 1, None, None]
        masks = (dy**2 + dx**2 <= self.radius**2).float()
        return UnionSegmentation(masks.argmax(0), masks)


def _largest_gap(length: int, stride: int) -> int:
    """The largest distance from a pixel to its nearest grid point along one axis."""
    last = (length - 1) // stride * stride
    return max(length - 1 - last, stride // 2 if last > 0 else 0)
