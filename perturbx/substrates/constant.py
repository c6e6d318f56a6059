"""A single colour: black, white, grey, the ImageNet mean, or any value per channel."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, field_validator

from perturbx.errors import PerturbxError
from perturbx.models.named import IMAGENET_MEAN
from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate

NAMED = {"black": (0.0,), "white": (1.0,), "grey": (0.5,), "imagenet_mean": IMAGENET_MEAN}


@register("constant", paper="Zeiler & Fergus 2014 (occlusion); Petsiuk et al. 2018 (RISE)")
class Constant(Substrate):
    """Fill with one colour: a name (black, white, grey, imagenet_mean), a value, or one value per channel."""

    color: Literal["black", "white", "grey", "imagenet_mean"] | float | list[float] = Field(
        "black", description="colour name, grey level in [0,1], or one value per channel"
    )

    @field_validator("color")
    @classmethod
    def _in_range(cls, value: object) -> object:
        values = value if isinstance(value, list) else [value] if isinstance(value, float) else []
        if any(not 0.0 <= v <= 1.0 for v in values):
            raise ValueError("colour values must lie in [0,1]")
        return value

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        value = NAMED.get(self.color, self.color) if isinstance(self.color, str) else self.color
        values = torch.tensor(value if isinstance(value, (list, tuple)) else [value], dtype=image.dtype)
        channels = image.shape[0]
        if values.numel() not in (1, channels):
            raise PerturbxError(f"constant: {values.numel()} colour values for a {channels}-channel image")
        return values.to(image.device).view(-1, 1, 1).expand_as(image)
