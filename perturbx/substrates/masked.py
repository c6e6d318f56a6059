"""The base of fills computed from each sample's removed region (inpainting, imputation)."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Fill, Substrate


class RegionFill(Substrate):
    """Binarise each keep-mask (removed = ``keep < threshold``) and fill that region from the rest of
    the image, one mask at a time on the CPU; pixels outside the region keep the image's own values.
    A mask that removes everything leaves nothing to fill from: it gets the image's mean colour."""

    threshold: float = Field(0.5, gt=0, le=1, description="pixels whose keep-mask is below this are filled; "
                                                          "1.0 fills every pixel that is even partly removed "
                                                          "(less a 1e-4 tolerance for rounding)")

    def fill_region(self, image: torch.Tensor, removed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The fill ``[C,H,W]`` of one CPU image ``[C,H,W]`` whose ``removed [H,W]`` pixels are unknown."""
        raise NotImplementedError

    def bind(self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator) -> Fill:
        return lambda keep: self.fills(image, keep, generator)

    def fills(self, image: torch.Tensor, keep: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Per-mask fills ``[n,C,H,W]`` of ``image`` for keep-masks ``[n,H,W]``."""
        cpu = image.detach().cpu()
        removed = (keep < self.threshold - 1e-4).cpu()
        mean = cpu.mean((1, 2), keepdim=True).expand_as(cpu)
        fills = [cpu if not r.any() else mean if r.all() else self.fill_region(cpu, r, generator) for r in removed]
        return torch.stack(fills).to(image.device, image.dtype)
