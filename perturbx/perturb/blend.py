"""The blend of image and substrate under soft keep-masks."""

from __future__ import annotations

import torch


def blend(image: torch.Tensor, fill: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``fill + keep·(image − fill)``: ``image [C,H,W]``, ``fill [C,H,W]`` or ``[n,C,H,W]``, ``keep [n,H,W]``."""
    return torch.addcmul(fill, keep.unsqueeze(1), image - fill)
