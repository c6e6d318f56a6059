"""The substrate contract: what replaces removed pixels, bound once per image."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch

from perturbx.registry import Component
from perturbx.segmenters.segmentation import Segmentation

Fill = Callable[[torch.Tensor], torch.Tensor]  # keep-masks [n,H,W] -> fill [C,H,W] or [n,C,H,W]


class Substrate(Component):
    """A fill for one image: :meth:`bind` returns ``fill(keep)``, called for every chunk of keep-masks.

    Most substrates have one fill per image and implement :meth:`prepare`; those whose fill depends on
    which pixels are removed (inpainting, imputation) override :meth:`bind`. ``segmentation`` is
    ``None`` outside a pipeline (metric curves).
    """

    kind: ClassVar[str] = "substrate"

    def bind(self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator) -> Fill:
        """The fill function of ``image [C,H,W]``; random draws come from ``generator``, the substrate's stream."""
        fill = self.prepare(image, segmentation, generator)
        return lambda keep: fill

    def prepare(
        self, image: torch.Tensor, segmentation: Segmentation | None, generator: torch.Generator
    ) -> torch.Tensor:
        """The one fill ``[C,H,W]`` that replaces removed pixels of ``image``."""
        raise NotImplementedError
