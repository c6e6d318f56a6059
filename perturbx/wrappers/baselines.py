"""Reference images for path methods: zeros, each image's min or max, blur, uniform noise, a value, an
image, or a set of images (DeepLIFT-SHAP, GradientSHAP, Expected Gradients)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import BeforeValidator

from perturbx.errors import PerturbxError
from perturbx.perturb.filters import gaussian_blur

BaselineName = Literal["zeros", "image_min", "image_max", "blur"]
NAMES = ("zeros", "image_min", "image_max", "blur")
RENAMED = {"black": ("image_min", "minimum"), "white": ("image_max", "maximum")}  # names before 0.2


def _unknown(spec: str) -> PerturbxError:
    if spec in RENAMED:
        new, meaning = RENAMED[spec]
        return PerturbxError(
            f"baseline: {spec!r} was renamed {new!r} (each image's {meaning} value); use 'zeros' for 0 in pixel space"
        )
    return PerturbxError(f"baseline: unknown name {spec!r}; use {', '.join(NAMES)}, a number or a tensor")


def _current_name(value: Any) -> Any:
    if isinstance(value, str) and value in RENAMED:
        raise ValueError(str(_unknown(value)).removeprefix("baseline: "))
    return value


Baseline = Annotated[BaselineName | float | torch.Tensor, BeforeValidator(_current_name)]


def make_baseline(spec: Any, x: torch.Tensor, blur_sigma: float = 10.0) -> torch.Tensor:
    """The baseline ``[B,C,H,W]`` for images ``x``: ``zeros`` = 0 in pixel space, ``image_min``/``image_max``
    = each image's min/max value, ``blur`` = Gaussian blur (``blur_sigma`` px), a number = that
    constant, a tensor ``[C,H,W]``, ``[B,C,H,W]`` or broadcastable = a custom image in [0,1]."""
    if isinstance(spec, str):
        if spec == "image_min":
            return x.amin(dim=(1, 2, 3), keepdim=True).expand_as(x).clone()
        if spec == "image_max":
            return x.amax(dim=(1, 2, 3), keepdim=True).expand_as(x).clone()
        if spec == "zeros":
            return torch.zeros_like(x)
        if spec == "blur":
            return gaussian_blur(x, blur_sigma)
        raise _unknown(spec)
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


def make_baseline_set(spec: Any, x: torch.Tensor, name: str = "baselines") -> torch.Tensor:
    """A set of references ``[B,K,C,H,W]`` for images ``x``: a tensor ``[K,C,H,W]`` shared by every image
    (e.g. training images), or one reference per image from a name or number (``K = 1``)."""
    if isinstance(spec, torch.Tensor) and spec.dim() == 4:
        if spec.shape[0] == 0:
            raise PerturbxError(f"{name}: the baseline set is empty; give at least one image [K,C,H,W]")
        if tuple(spec.shape[1:]) != tuple(x.shape[1:]):
            raise PerturbxError(
                f"{name}: each baseline must have the images' shape {tuple(x.shape[1:])}, "
                f"got a set of shape {tuple(spec.shape)}"
            )
        if not spec.is_floating_point() or not torch.isfinite(spec).all():
            raise PerturbxError(f"{name}: expected finite floating-point images")
        return spec.to(x.device, x.dtype)[None].expand(x.shape[0], *spec.shape)
    if isinstance(spec, torch.Tensor) and spec.dim() != 3:
        raise PerturbxError(
            f"{name}: expected a set of images [K,C,H,W] or one image [C,H,W], got shape {tuple(spec.shape)}"
        )
    return make_baseline(spec, x)[:, None]
