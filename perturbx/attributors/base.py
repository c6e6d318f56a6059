"""The attributor contract: fold (coalitions, keep-masks, scores) chunk by chunk into attributions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from perturbx.attributors.uncertainty import relative_error
from perturbx.registry import Component
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


@dataclass
class Attribution:
    """Feature scores ``[M]`` (``None`` for pixel-only methods), the per-pixel map ``[H,W]`` and their
    standard errors (``None`` where the method has no error estimate; exactly 0 for fixed designs)."""

    features: torch.Tensor | None
    pixels: torch.Tensor
    features_stderr: torch.Tensor | None = None
    pixels_stderr: torch.Tensor | None = None


class Accumulator:
    """Running state of one image's attribution; :meth:`update` sees each chunk once, in order."""

    def update(self, z: torch.Tensor, keep: torch.Tensor, y: torch.Tensor) -> None:
        """Fold one chunk in: coalitions ``z [n,M]``, keep-masks ``[n,H,W]`` and scores ``y [n]``."""
        raise NotImplementedError

    def result(self) -> Attribution:
        """The feature scores and the pixel map from everything seen so far."""
        raise NotImplementedError

    def error(self) -> float:
        """The stopping rule's measure on everything seen so far: max stderr / range of the estimate
        (NaN when the method has no error estimate)."""
        result = self.result()
        return relative_error(result.pixels, result.pixels_stderr)


class Attributor(Component):
    """Turns perturbation outcomes into attributions.

    ``start`` receives the image's segmentation, the full coalition design and the unperturbed score
    ``y0``; it returns an :class:`Accumulator` that the query engine feeds chunk by chunk.
    """

    kind: ClassVar[str] = "attributor"
    anytime: ClassVar[bool] = False  # has a standard error on random designs, so a stopping rule can act

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        """Reject designs this attributor cannot use, before any model query."""

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        """A fresh accumulator for one image, given its segmentation, the design and the unperturbed score."""
        raise NotImplementedError
