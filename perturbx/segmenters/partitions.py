"""Several segmentations of one image, for multi-partition methods (PAMI) or as one overlapping set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from pydantic import Field, field_serializer, field_validator

from perturbx import registry
from perturbx.errors import PerturbxError
from perturbx.segmenters.base import Segmenter
from perturbx.segmenters.edges import Edges
from perturbx.segmenters.segmentation import Segmentation

PAMI_SHIFTS = [(0, 0)] + [(d, 0) for d in (36, -36, 30, -30, 24, -24)] + [(0, d) for d in (36, -36, 30, -30, 24, -24)]


def pami_segmenters() -> list[dict[str, Any]]:
    """PAMI's partitions without SEEDS: Felzenszwalb ×6, SLIC ×8, watershed ×3 (17 specs)."""
    scales = (250, 200, 150, 100, 70, 50)
    felz = [{"name": "felzenszwalb", "scale": s, "smoothing": 0.8, "min_size": 28 * 28} for s in scales]
    slic = [{"name": "slic", "n_segments": n, "compactness": 20.0} for n in range(10, 81, 10)]
    water = [{"name": "watershed", "markers": n, "compactness": 1e-4} for n in (10, 20, 30)]
    return felz + slic + water


@registry.register("partitions", paper="PAMI (Partition input and Aggregate outputs): 20 partitions "
                                       "(17 here: SEEDS left out) × 13 shifts")
class Partitions(Segmenter):
    """Every segmenter in ``segmenters`` applied to every circularly shifted copy of the image in ``shifts``
    (``(rows, cols)`` px), the shift undone on the labels: ``len(segmenters)·len(shifts)`` partitions.

    Multi-partition attributors (PAMI) call :meth:`segmentations`, a list of :class:`Segmentation`
    in the original image frame, segmenter-major then shift order. Used as an ordinary segmenter,
    :meth:`segment` returns their union: every segment of every partition is one feature, each
    partition's masks normalised to sum to 1, so a keep-mask is the mean of the partitions' keep-masks.
    """

    segmenters: list[Segmenter] = Field(default_factory=lambda: [registry.build("segmenter", s)
                                                                  for s in pami_segmenters()],
                                        description="segmenter specs (default: PAMI's 17 without SEEDS)")
    shifts: list[tuple[int, int]] = Field([(0, 0)], min_length=1, description="circular shifts (rows, cols) in px")
    edges: Edges | None = Field(None, description="edges for every segmenter that has them; None: their own")

    @field_validator("segmenters", mode="before")
    @classmethod
    def _build(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError("expected a non-empty list of segmenter specs")
        return [registry.build("segmenter", v, where=f"segmenters[{i}]") for i, v in enumerate(value)]

    @field_serializer("segmenters")
    def _specs(self, value: list[Segmenter]) -> list[dict[str, Any]]:
        return [s.spec() for s in value]

    @classmethod
    def pami(cls) -> Partitions:
        """PAMI's default recipe (SEEDS left out: it needs OpenCV contrib): 17 segmenters × 13 shifts."""
        return cls(segmenters=pami_segmenters(), shifts=PAMI_SHIFTS)

    @property
    def n_partitions(self) -> int:
        """Number of partitions: segmenters × shifts."""
        return len(self.segmenters) * len(self.shifts)

    def iter_segmentations(self, image: torch.Tensor, n_samples: int, generator: torch.Generator
                           ) -> Iterator[Segmentation]:
        """The partitions one at a time, so only one set of masks need be held."""
        for segmenter in self.segmenters:
            if self.edges is not None and "edges" in type(segmenter).model_fields:
                segmenter = segmenter.model_copy(update={"edges": self.edges})
            for dy, dx in self.shifts:
                seg = segmenter.segment(torch.roll(image, (dy, dx), dims=(-2, -1)), n_samples, generator)
                if type(seg) is not Segmentation and (dy, dx) != (0, 0):
                    raise PerturbxError(f"partitions: {segmenter.name} makes per-sample masks and cannot be shifted")
                yield _unshift(seg, dy, dx)

    def segmentations(self, image: torch.Tensor, n_samples: int, generator: torch.Generator) -> list[Segmentation]:
        """All ``n_partitions`` segmentations of ``image [C,H,W]``, in the original image frame."""
        return list(self.iter_segmentations(image, n_samples, generator))

    def segment(self, image: torch.Tensor, n_samples: int, generator: torch.Generator) -> Segmentation:
        parts = self.segmentations(image, n_samples, generator)
        if any(type(p) is not Segmentation for p in parts):
            raise PerturbxError("partitions: a union needs fixed masks, not per-sample ones (shifted grid)")
        masks = torch.cat([p.masks / p.coverage for p in parts])
        return Segmentation(masks.argmax(0), masks)


def _unshift(seg: Segmentation, dy: int, dx: int) -> Segmentation:
    if (dy, dx) == (0, 0):
        return seg
    back = (-dy, -dx)
    return Segmentation(torch.roll(seg.labels, back, (0, 1)), torch.roll(seg.masks, back, (1, 2)), hard=seg.hard)
