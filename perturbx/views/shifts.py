"""Circularly shifted copies of the image (PAMI), each map rolled back after scoring."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.views.base import View

PAMI_SHIFTS = [(0, 0)] + [(d, 0) for d in (36, -36, 30, -30, 24, -24)] + [(0, d) for d in (36, -36, 30, -30, 24, -24)]


@register("shifts", paper="Shi et al. 2024 (PAMI: 13 shifted copies of the image)")
class Shifts(View):
    """View ``k`` is the image rolled by ``shifts[k] = (rows, cols)`` px with wrap-around; segmentation,
    fill and scores all happen on the rolled copy, and its map is rolled back. Default: PAMI's 13 shifts."""

    shifts: list[tuple[int, int]] = Field(
        default_factory=lambda: list(PAMI_SHIFTS), min_length=1, description="circular shifts (rows, cols) in px"
    )

    def count(self) -> int:
        return len(self.shifts)

    def show(self, image: torch.Tensor, k: int) -> torch.Tensor:
        return image.roll(self.shifts[k], (-2, -1))

    def back(self, pixels: torch.Tensor, k: int) -> torch.Tensor:
        dy, dx = self.shifts[k]
        return pixels.roll((-dy, -dx), (-2, -1))
