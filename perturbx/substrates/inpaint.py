"""OpenCV inpainting of the removed region: Telea's fast marching or Navier-Stokes (Bertalmio)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.substrates.masked import RegionFill


@register("inpaint", paper="Telea 2004; Bertalmio et al. 2001; Pihlgren & Främling 2024 (OpenCV inpainting, radius 1)")
class Inpaint(RegionFill):
    """``cv2.inpaint`` of every sample's removed region on the 8-bit image (OpenCV's float path of Telea
    overshoots), 3-channel images at once and others channel by channel; pixels outside the region keep
    their exact values. Needs ``opencv-python-headless`` (``pip install perturbx[opencv]``)."""

    method: Literal["telea", "ns"] = Field("telea", description="telea (fast marching) or ns (Navier-Stokes)")
    radius: float = Field(1.0, gt=0, description="neighbourhood radius in pixels")

    def model_post_init(self, context: Any) -> None:
        _cv2()

    def fill_region(self, image: torch.Tensor, removed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        cv2 = _cv2()
        flag = cv2.INPAINT_TELEA if self.method == "telea" else cv2.INPAINT_NS
        mask = removed.numpy().astype(np.uint8)
        pixels = (image.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
        planes = [pixels] if pixels.shape[-1] == 3 else [np.ascontiguousarray(p) for p in pixels.transpose(2, 0, 1)]
        filled = np.dstack([cv2.inpaint(p, mask, self.radius, flag) for p in planes])
        out = torch.from_numpy(filled).permute(2, 0, 1).to(image.dtype) / 255
        return torch.where(removed, out, image)


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise PerturbxError("substrate inpaint: needs OpenCV; install it with "
                            "'pip install opencv-python-headless' (or 'pip install perturbx[opencv]')") from None
    return cv2
