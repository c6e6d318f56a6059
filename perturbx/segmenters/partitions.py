"""Several segmentations of one image, for multi-partition methods (PAMI) or as one overlapping set."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field, field_serializer, field_validator

from perturbx import registry
from perturbx.errors import PerturbxError
from perturbx.segmenters.base import Segmenter
from perturbx.segmenters.edges import Edges
from perturbx.segmenters.segmentation import Segmentation


def pami_segmenters() -> list[dict[str, Any]]:
    """PAMI's partitions without SEEDS: Felzenszwalb ×6, SLIC ×8, watershed ×3 (17 specs)."""
    scales = (250, 200, 150, 100, 70, 50)
    felz = [{"name": "felzenszwalb", "scale": s, "smoothing": 0.8, "min_size": 28 * 28} for s in scales]
    slic = [{"name": "slic", "n_segments": n, "compactness": 20.0} for n in range(10, 81, 10)]
    water = [{"name": "watershed", "markers": n, "compactness": 1e-4} for n in (10, 20, 30)]
    return felz + slic + water


@registry.register("partitions", paper="PAMI (Partition input and Aggregate outputs): 20 partitions "
                                       "(17 here: SEEDS left out)")
class Partitions(Segmenter):
    """Every segmenter in ``segmenters`` applied to the image: ``len(segmenters)`` partitions.

    A pipeline runs one job per partition (:meth:`partitions`, in segmenter order) and its attributor
    combines them (PAMI's average). Used as one segmentation, :meth:`segment` returns their union:
    every segment of every partition is one feature, each partition's masks normalised to sum to 1,
    so a keep-mask is the mean of the partitions' keep-masks.
    """

    segmenters: list[Segmenter] = Field(default_factory=lambda: [registry.build("segmenter", s)
                                                                  for s in pami_segmenters()],
                                        description="segmenter specs (default: PAMI's 17 without SEEDS)")
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

    def partitions(self, image: torch.Tensor, generator: torch.Generator) -> list[Segmentation]:
        """One fixed segmentation per segmenter, each with this segmenter's ``edges`` where it has them."""
        parts = []
        for segmenter in self.segmenters:
            if self.edges is not None and "edges" in type(segmenter).model_fields:
                segmenter = segmenter.model_copy(update={"edges": self.edges})
            part = segmenter.segment(image, generator)
            if part.per_sample:
                raise PerturbxError(f"partitions: {segmenter.name} makes per-sample masks (a shifted grid); "
                                    "partitions must be fixed")
            parts.append(part)
        return parts

    def segment(self, image: torch.Tensor, generator: torch.Generator) -> Segmentation:
        parts = self.partitions(image, generator)
        masks = torch.cat([p.masks / p.coverage for p in parts])
        return Segmentation(masks.argmax(0), masks)
