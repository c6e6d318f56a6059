"""The segmenter contract: an image in, a :class:`Segmentation` out."""

from __future__ import annotations

from typing import ClassVar

import torch

from perturbx.registry import Component
from perturbx.segmenters.segmentation import Segmentation


class Segmenter(Component):
    """Split one image ``[C,H,W]`` into M features with soft masks.

    ``n_samples`` and ``generator`` serve segmenters whose masks vary per sample (random shifts).
    """

    kind: ClassVar[str] = "segmenter"

    def segment(self, image: torch.Tensor, n_samples: int, generator: torch.Generator) -> Segmentation:
        """Split one image ``[C,H,W]`` into features (``n_samples`` for per-sample geometry)."""
        raise NotImplementedError
