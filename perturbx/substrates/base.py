"""The substrate contract: what replaces removed pixels."""

from __future__ import annotations

from typing import ClassVar

import torch

from perturbx.registry import Component
from perturbx.segmenters.segmentation import Segmentation


class Substrate(Component):
    """A fill image for one input image.

    Mask-independent substrates implement :meth:`prepare` (called once per image, ``[C,H,W]``);
    those that depend on the keep-mask (inpainting) set ``depends_on_mask`` and implement :meth:`fill`.
    """

    kind: ClassVar[str] = "substrate"
    depends_on_mask: ClassVar[bool] = False

    def prepare(self, image: torch.Tensor, segmentation: Segmentation, generator: torch.Generator) -> torch.Tensor:
        """The fill ``[C,H,W]`` that replaces removed pixels, computed once per image."""
        raise NotImplementedError

    def fill(self, image: torch.Tensor, keep: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Per-mask fills ``[n,C,H,W]`` for keep-masks ``[n,H,W]`` (mask-dependent substrates only)."""
        raise NotImplementedError
