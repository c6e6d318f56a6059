"""``kind: bundled``: bundled photos by name (``perturbx.data.BUNDLED_IMAGES``); no labels or masks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from perturbx.datasets.base import Dataset, DatasetSpec, Item
from perturbx.errors import ConfigError, unknown_choice


class BundledSet(DatasetSpec):
    """Bundled photos by name, read when their turn comes."""

    kind: Literal["bundled"]
    images: list[str] = Field(min_length=1, description="bundled photo names")
    size: int = Field(224, ge=8, description="shorter side resized, then centre-cropped square")

    def open(self, root: Path) -> Dataset:
        """Check the names; each photo is read on demand."""
        from perturbx import data

        for name in self.images:
            if name not in data.BUNDLED_IMAGES:
                raise ConfigError(f"dataset.images: {unknown_choice('bundled photo', name, data.BUNDLED_IMAGES)}")

        def read(indices: Sequence[int]) -> list[Item]:
            return [Item(self.images[k], data.image(self.images[k], self.size)) for k in indices]

        return Dataset(list(self.images), read)
