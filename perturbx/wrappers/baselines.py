"""Reference images for path methods: black, white, blur, zeros, or a custom value or image."""

from __future__ import annotations

from typing import Any, Literal

import torch

from perturbx.errors import PerturbxError
from perturbx.perturb.filters import gaussian_blur

BaselineName = Literal["black", "white", "blur", "zeros"]


def make_baseline(spec: Any, x: torch.Tensor, blur_sigma: float = 10.0) -> torch.Tensor:
    """The baseline ``[B,C,H,W]`` for images ``x``: ``black``/``white`` = each image's min/max value,
    ``zeros`` = 0 in pixel space, ``blur`` = Gaussian blur (``blur_sigma`` px), a number = that
    constant, a tensor ``[C,H,W]``, ``[B,C,H,W]`` or broadcastable = a custom image in [0,1]."""
    if isinstance(spec, str):
        if spec == "black":
            return x.amin(dim=(1, 2, 3), keepdim=True).expand_as(x).clone()
        if spec == "white":
            return x.amax(dim=(1, 2, 3), keepdim=True).expand_as(x).clone()
        if spec == "zeros":
            return torch.zeros_like(x)
        if spec == "blur":
            return gaussian_blur(x, blur_sigma)
        raise PerturbxError(f"baseline: unknown name {spec!r}; use black, white, blur, zeros, a number or a tensor")
    if isinstance(spec, int | float):
        return torch.full_like(x, float(spec))
    if isinstance(spec, torch.Tensor):
        try:
            return torch.broadcast_to(spec.to(x.device, x.dtype), x.shape).clone()
        except RuntimeError:
            raise PerturbxError(f"baseline: shape {tuple(spec.shape)} does not broadcast to {tuple(x.shape)}") from None
    raise PerturbxError(f"baseline: expected a name, a number or a tensor, got {type(spec).__name__}")


def check_baseline(spec: Any, x: torch.Tensor) -> None:
    """Validate a baseline against the images before any model query."""
    make_baseline(spec, x[:1] if not isinstance(spec, torch.Tensor) or spec.dim() < 4 else x)
