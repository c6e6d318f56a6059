"""RISE's insertion blur: its exact kernel, with the zero padding of the model's normalised input."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from scipy.ndimage import gaussian_filter1d

from perturbx.models.named import IMAGENET_MEAN
from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate


def rise_kernel(klen: int, nsig: float) -> torch.Tensor:
    """RISE's ``gkern`` as its 1-D factor: scipy's Gaussian filter (σ = ``nsig`` px, reflected borders) of a
    ``klen``-pixel delta, so the tails beyond the window fold back in. The 2-D kernel is its outer product."""
    delta = np.zeros(klen)
    delta[klen // 2] = 1.0
    return torch.from_numpy(gaussian_filter1d(delta, nsig, mode="reflect"))


@register("rise_blur", paper="Petsiuk et al. 2018 (RISE insertion substrate: gkern(klen=11, nsig=5))")
class RiseBlur(Substrate):
    """RISE's blur, kernel ``gkern(klen, nsig)`` (a σ = ``nsig`` Gaussian folded into ``klen`` taps). The
    original convolved normalised inputs with zero padding: padding with the normalisation mean
    (``border``) in [0,1] space."""

    klen: int = Field(11, ge=1, description="kernel width in pixels")
    nsig: float = Field(5.0, gt=0, description="the kernel spans ±nsig standard deviations")
    border: Literal["imagenet_mean", "black"] = Field(
        "imagenet_mean", description="colour outside the image (imagenet_mean: RISE's zero padding of normalised input)"
    )

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        c = image.shape[0]
        mean = IMAGENET_MEAN if c == 3 else (sum(IMAGENET_MEAN) / 3,) * c
        colour = mean if self.border == "imagenet_mean" else (0.0,) * c
        offset = torch.tensor(colour, dtype=image.dtype, device=image.device).view(c, 1, 1)
        k = rise_kernel(self.klen, self.nsig).to(image)
        pad = self.klen // 2
        x = (image - offset)[:, None]  # channels as a batch: one kernel for each
        x = F.conv2d(F.pad(x, (pad, pad, pad, pad)), k.view(1, 1, 1, -1))
        x = F.conv2d(x, k.view(1, 1, -1, 1))
        return x[:, 0, : image.shape[1], : image.shape[2]] + offset

