"""The segmenter contract: an image in, one or several :class:`Segmentation` partitions out."""

from __future__ import annotations

from typing import ClassVar

import torch

from perturbx.registry import Component
from perturbx.segmenters.segmentation import Segmentation


class Segmenter(Component):
    """Split one image ``[C,H,W]`` into M features with soft masks.

    ``generator`` is the segmenter's own random stream (random per-sample shifts draw from it).
    Multi-partition segmenters (PAMI's) override :meth:`partitions`; a pipeline runs one job per partition.
    """

    kind: ClassVar[str] = "segmenter"

    def segment(self, image: torch.Tensor, generator: torch.Generator) -> Segmentation:
        """Split one image ``[C,H,W]`` into features."""
        raise NotImplementedError

    def partitions(self, image: torch.Tensor, generator: torch.Generator) -> list[Segmentation]:
        """Every partition of the image this segmenter makes; one unless it combines several segmenters."""
        return [self.segment(image, generator)]
