"""``kind: synthetic``: the synthetic ground-truth set (``perturbx.data.synthetic``), generated chunk by chunk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from perturbx.data.synthetic import CLASSES
from perturbx.datasets.base import Dataset, DatasetSpec, Item


class SyntheticSet(DatasetSpec):
    """Images with labels and target-object masks; image ``k`` is drawn from its own random stream, so
    any chunk is generated alone and equals the same images of a whole-set draw."""

    kind: Literal["synthetic"]
    n: int = Field(ge=1, description="number of images")
    seed: int = Field(0, ge=0, description="seed of the set")
    size: int = Field(64, ge=32, description="image side in pixels")

    def open(self, root: Path) -> Dataset:
        """Ids and labels now; pixels when a chunk is read."""
        from perturbx import data

        ids = [f"synthetic-{self.seed}-{k:04d}" for k in range(self.n)]

        def read(indices: Sequence[int]) -> list[Item]:
            items = []
            for run in _runs(indices):
                made = data.synthetic(len(run), self.seed, self.size, start=run[0])
                items += [Item(ids[k], made.images[j : j + 1], int(made.labels[j]), made.masks[j])
                          for j, k in enumerate(run)]
            return items

        labels = [k % len(CLASSES) for k in range(self.n)]  # the generator's rule: labels cycle through the classes
        return Dataset(ids, read, labels, has_masks=True)


def _runs(indices: Sequence[int]) -> list[list[int]]:
    """Consecutive runs of ``indices`` (each run is one generator call)."""
    runs: list[list[int]] = []
    for k in indices:
        if runs and runs[-1][-1] + 1 == k:
            runs[-1].append(k)
        else:
            runs.append([k])
    return runs
