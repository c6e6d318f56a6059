"""Another image as the fill: one image, or a set from which every sample draws one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field, PrivateAttr, field_serializer, field_validator

from perturbx.data.images import BUNDLED_IMAGES
from perturbx.data.images import image as load_image
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Fill, Substrate

Source = torch.Tensor | str


@register("image", paper="Pihlgren & Främling 2024 (replacement image fill)")
class ReplacementImage(Substrate):
    """Fill with another image: a ``[C,H,W]`` tensor in [0,1], a file path or a bundled name (``chelsea``,
    ``coffee``, ...), resized (shorter side, then centre crop) to the explained image. A tensor source
    appears in :meth:`spec` as a short description, not its values."""

    source: Source = Field("coffee", description="[C,H,W] tensor, image path, or bundled image name")
    _cache: dict[Any, torch.Tensor] = PrivateAttr(default_factory=dict)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return _check_source(value)

    @field_serializer("source")
    def _describe(self, value: Source) -> str:
        return _describe(value)

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        return _fitted([self.source], image, self._cache)[0]


@register("images", paper="Pihlgren & Främling 2024 (replacement images fill)")
class ReplacementImages(Substrate):
    """Fill every sample with one image drawn at random (from the generator, sample by sample) from
    ``sources``: a ``[K,C,H,W]`` tensor, or a list of tensors, paths or bundled names."""

    sources: list[Source] = Field(
        ["chelsea", "coffee", "astronaut", "rocket"], description="[K,C,H,W] tensor or list of images/paths/names")
    _cache: dict[Any, torch.Tensor] = PrivateAttr(default_factory=dict)

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            if value.dim() != 4 or value.shape[0] == 0:
                raise ValueError(f"expected a [K,C,H,W] tensor, got shape {tuple(value.shape)}")
            value = list(value)
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError("expected a non-empty list of images, paths or bundled names")
        return [_check_source(v) for v in value]

    @field_serializer("sources")
    def _describe(self, value: list[Source]) -> list[str]:
        return [_describe(v) for v in value]

    def bind(self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator) -> Fill:
        stack = _fitted(self.sources, image, self._cache)

        def fill(keep: torch.Tensor) -> torch.Tensor:
            picks = torch.cat([torch.randint(len(stack), (1,), generator=generator) for _ in range(keep.shape[0])])
            return stack[picks.to(stack.device)]

        return fill


def _check_source(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        t = value[0] if value.dim() == 4 and value.shape[0] == 1 else value
        if t.dim() != 3 or not t.is_floating_point() or t.min() < 0 or t.max() > 1:
            raise ValueError(f"expected a float [C,H,W] tensor in [0,1], got {value.dtype} {tuple(value.shape)}")
        return t.detach()
    if isinstance(value, str) and not (value in BUNDLED_IMAGES or Path(value).is_file()):
        raise ValueError(f"{value!r} is neither an image file nor a bundled image ({', '.join(BUNDLED_IMAGES)})")
    return value


def _describe(value: Source) -> str:
    return value if isinstance(value, str) else f"<tensor {list(value.shape)}>"


def _fitted(sources: list[Source], image: torch.Tensor, cache: dict[Any, torch.Tensor]) -> torch.Tensor:
    """The sources as ``[K,C,H,W]`` on ``image``'s device, sized and coloured like ``image``; cached."""
    key = (tuple(image.shape), image.device, image.dtype)
    if key not in cache:
        cache.clear()
        cache[key] = torch.stack([_fit(_load(s), image) for s in sources])
    return cache[key]


def _load(source: Source) -> torch.Tensor:
    return source if isinstance(source, torch.Tensor) else load_image(source, size=None)[0]


def _fit(picture: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Resize ``picture`` so it covers ``image``'s size, crop the centre, and match its channel count."""
    (c, h, w), (pc, ph, pw) = image.shape, picture.shape
    if pc != c and 1 not in (pc, c):
        raise PerturbxError(f"substrate image: a {pc}-channel replacement for a {c}-channel image")
    picture = picture.float().mean(0, keepdim=True) if c == 1 else picture.float().expand(c, -1, -1)
    scale = max(h / ph, w / pw)
    size = (max(h, round(ph * scale)), max(w, round(pw * scale)))
    if size != (ph, pw):
        picture = F.interpolate(picture[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (size[0] - h) // 2, (size[1] - w) // 2
    return picture[:, top:top + h, left:left + w].clamp(0, 1).to(image.device, image.dtype)
