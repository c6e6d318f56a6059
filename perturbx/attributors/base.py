"""The attributor contract: fold (coalitions, keep-masks, scores) chunk by chunk into attributions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from perturbx.attributors.uncertainty import correlation_shortfall, rank_shortfall, relative_error
from perturbx.registry import Component
from perturbx.samplers.base import Coalitions, Sampler
from perturbx.segmenters.segmentation import Segmentation


@dataclass
class Attribution:
    """Feature scores ``[M]`` (``None`` for pixel-only methods) and the per-pixel map ``[H,W]``.

    ``weight [H,W]`` is how much each pixel of this map counts when the maps of several partitions
    or views are combined (``None``: 1 everywhere). ``features_stderr`` and ``pixels_stderr`` are their
    standard errors (``None`` where the method has no error estimate; exactly 0 for fixed designs).
    """

    features: torch.Tensor | None
    pixels: torch.Tensor
    weight: torch.Tensor | None = None
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

    def error(self, measure: str = "range") -> float:
        """The stopping rule's ``measure`` on everything seen so far (NaN without an error estimate):
        ``range``, max stderr / range of the estimate; ``correlation`` and ``rank``, 1 − its expected Pearson and
        Spearman correlation with the converged map (here from independent per-pixel errors, which overstates
        them when errors are shared; accumulators that know their errors' covariance override this)."""
        result = self.result()
        stderr = result.pixels_stderr
        if measure == "correlation":
            noise = math.nan if stderr is None else float(stderr.double().pow(2).mean())
            return correlation_shortfall(result.pixels, noise)
        if measure == "rank":
            if stderr is None:
                return math.nan
            normal = torch.randn((8, *stderr.shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
            return rank_shortfall(result.pixels, normal.to(stderr.device) * stderr.double())
        return relative_error(result.pixels, stderr)


class Attributor(Component):
    """Turns perturbation outcomes into attributions.

    ``start`` receives one job's segmentation, the full coalition design and the unperturbed score
    ``y0``; it returns an :class:`Accumulator` that the query engine feeds chunk by chunk. When a
    pipeline runs several jobs per image (partitions, views), :meth:`combine` merges their maps.
    """

    kind: ClassVar[str] = "attributor"
    anytime: ClassVar[bool] = False  # has a standard error on random designs, so a stopping rule can act

    def accepts(self, sampler: Sampler) -> None:
        """Reject, when a pipeline is built, a sampler whose designs this attributor can never use."""

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        """Reject designs this attributor cannot use, before any model query."""

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        """A fresh accumulator for one job, given its segmentation, the design and the unperturbed score."""
        raise NotImplementedError

    def combine(self, parts: list[Attribution]) -> torch.Tensor:
        """One map ``[H,W]`` from the maps of an image's jobs (in the image's frame): their weighted mean."""
        if len(parts) == 1:
            return parts[0].pixels.float()
        total = sum(p.pixels.double() * (1.0 if p.weight is None else p.weight.double()) for p in parts)
        weight = sum(torch.ones_like(p.pixels, dtype=torch.float64) if p.weight is None else p.weight.double()
                     for p in parts)
        return (total / weight.clamp_min(1e-12)).float()

    def combine_stderr(self, parts: list[Attribution]) -> torch.Tensor | None:
        """Standard error ``[H,W]`` of :meth:`combine`'s map: its jobs draw independently, so the weighted
        variances add (``None`` if any part has no error estimate)."""
        if any(p.pixels_stderr is None for p in parts):
            return None
        if len(parts) == 1:
            return parts[0].pixels_stderr.float()
        weights = [torch.ones_like(p.pixels, dtype=torch.float64) if p.weight is None else p.weight.double()
                   for p in parts]
        variance = sum(w**2 * p.pixels_stderr.double() ** 2 for w, p in zip(weights, parts))
        return (variance.sqrt() / sum(weights).clamp_min(1e-12)).float()

    def finish(self, pixels: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """The explanation's map from the combined map, and per-image extras for ``meta`` (none by default)."""
        return pixels, {}
