"""Separable Gaussian filtering in torch, shared by blur substrates and soft mask edges."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_kernel(sigma: float, size: int | None = None, device: torch.device | None = None) -> torch.Tensor:
    """A normalised 1-D Gaussian of odd length (default: ``2*ceil(3*sigma)+1``)."""
    if size is None:
        size = 2 * int(torch.ceil(torch.tensor(3.0 * sigma))) + 1
    offsets = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(x: torch.Tensor, sigma: float, size: int | None = None) -> torch.Tensor:
    """Blur ``[N,C,H,W]`` channel by channel; borders reflected (replicated when the kernel is too wide)."""
    kernel = gaussian_kernel(sigma, size, x.device).to(x.dtype)
    k = kernel.numel()
    n, c, h, w = x.shape
    flat = x.reshape(n * c, 1, h, w)
    pad = k // 2
    mode = "reflect" if pad < min(h, w) else "replicate"
    flat = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode=mode), kernel.view(1, 1, 1, k))
    flat = F.conv2d(F.pad(flat, (0, 0, pad, pad), mode=mode), kernel.view(1, 1, k, 1))
    return flat.reshape(n, c, h, w)
