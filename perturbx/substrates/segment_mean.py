"""Each segment filled with its own mean colour (a "superpixel mean" image)."""

from __future__ import annotations

import torch

from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate


@register("segment_mean", paper="Ribeiro et al. 2016 (LIME's hide_color=None: superpixel mean)")
class SegmentMean(Substrate):
    """Feature m's colour is the mask-weighted mean ``Σ masks[m]·x / Σ masks[m]``; each pixel gets the
    mask-weighted mean of its features' colours, so hard segments are filled with their plain mean.
    Without a segmentation (metric curves) the whole image is one segment: its mean colour."""

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        if segmentation is None:
            return image.mean((1, 2), keepdim=True).expand_as(image).clone()
        masks = segmentation.masks.to(image)
        colours = image.flatten(1) @ masks.flatten(1).T / masks.flatten(1).sum(1).clamp_min(1e-12)  # [C,M]
        return torch.stack([segmentation.project(c) for c in colours]).to(image)
