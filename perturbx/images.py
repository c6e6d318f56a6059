"""Checks on input images: shape, dtype, finiteness and the [0,1] pixel range."""

from __future__ import annotations

import torch

from perturbx.errors import PerturbxError


def check_images(x: object, name: str = "x") -> torch.Tensor:
    """Return ``x`` if it is a float tensor ``[B,C,H,W]`` of finite values in [0,1], else raise."""
    if not isinstance(x, torch.Tensor):
        raise PerturbxError(f"{name}: expected a torch.Tensor [B,C,H,W], got {type(x).__name__}")
    if x.dim() != 4:
        raise PerturbxError(f"{name}: expected shape [B,C,H,W], got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise PerturbxError(f"{name}: expected a floating-point tensor in [0,1], got dtype {x.dtype}")
    if min(x.shape) == 0:
        raise PerturbxError(f"{name}: empty tensor of shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise PerturbxError(f"{name}: contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise PerturbxError(
            f"{name}: pixel values must lie in [0,1] (un-normalised); got [{lo:.3g}, {hi:.3g}]. "
            "Pass normalisation to the model adapter instead (ModelAdapter(model, mean=..., std=...))."
        )
    return x
