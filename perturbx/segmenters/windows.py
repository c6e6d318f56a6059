"""Sliding windows: square occlusion patches on a regular stride, overlapping when stride < size."""

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
class WindowSegmentation(Segmentation):
    """Overlapping features: a pixel is kept only if no removed window covers it, so removing one
    window removes all of its pixels (``keep = Π_m z_m^{mask_m}``, exact for 0/1 coalitions)."""

    def keep_masks(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        log_keep = torch.log(z.clamp_min(1e-30)) @ self.masks.flatten(1)
        return torch.exp(log_keep).view(-1, *self.shape)


def window_starts(length: int, size: int, stride: int) -> list[int]:
    """Start offsets covering ``length``: every ``stride`` px, the last window clipped at the border."""
    return [i * stride for i in range(math.ceil(max(length - size, 0) / stride) + 1)]


@register("windows", paper="Zeiler & Fergus, ECCV 2014 (occlusion windows); Captum Occlusion")
class Windows(Segmenter):
    """Square windows of ``size`` px placed every ``stride`` px (default: ``size``, no overlap). With the
    ``single`` sampler and the ``occlusion`` attributor this is Captum's Occlusion: each pixel gets the
    mean score of the windows covering it."""

    size: int = Field(16, ge=1, description="window side in pixels")
    stride: int | None = Field(None, ge=1, description="step between windows in pixels; default: size")

    def segment(self, image: torch.Tensor, generator: torch.Generator) -> Segmentation:
        h, w = image.shape[-2:]
        if self.size > min(h, w):
            raise PerturbxError(f"windows: size {self.size} does not fit a {h}x{w} image")
        stride = self.stride or self.size
        if stride > self.size:
            raise PerturbxError(f"windows: stride {stride} > size {self.size} would leave pixels in no window")
        corners = [(t, s) for t in window_starts(h, self.size, stride) for s in window_starts(w, self.size, stride)]
        masks = torch.zeros(len(corners), h, w)
        for k, (top, left) in enumerate(corners):
            masks[k, top : top + self.size, left : left + self.size] = 1.0
        return WindowSegmentation(masks.argmax(0), masks, hard=False)
