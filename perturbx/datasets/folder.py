"""``kind: folder``: every image file of a folder, with an optional labels CSV and masks folder."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

from pydantic import Field

from perturbx.datasets.base import (
    IMAGE_SUFFIXES,
    Dataset,
    DatasetSpec,
    check_masks,
    file_reader,
    header_size,
    image_files,
    resolve,
)
from perturbx.errors import ConfigError


class FolderSet(DatasetSpec):
    """Every image file of a folder (sorted by name; id = file stem), optional ``labels`` CSV (columns
    ``image,label``; image = file name or stem) and ``masks`` folder (a mask image per stem, non-zero = inside)."""

    kind: Literal["folder"]
    path: str = Field(description="folder of images, relative to the experiment YAML")
    size: int | None = Field(224, ge=8, description="resize + centre-crop to this square; null keeps the size")
    labels: str | None = Field(None, description="CSV of image,label (relative to the folder)")
    masks: str | None = Field(None, description="folder of ground-truth masks named like the images")

    def open(self, root: Path) -> Dataset:
        """Validate the folder (labels, masks, readable headers); pixels are read later, image by image."""
        folder = resolve(root, self.path, "dataset.path")
        files = image_files(folder, "dataset.path")
        ids = [p.stem for p in files]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"dataset.path: two images share a name stem in {str(folder)!r}")
        for path in files:
            header_size(path, "dataset.path")
        labels = read_labels(resolve(folder, self.labels, "dataset.labels", directory=False), ids) if self.labels \
            else None
        masks = None
        if self.masks:
            where = resolve(folder, self.masks, "dataset.masks")
            by_stem = {p.stem: p for p in where.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
            missing = [i for i in ids if i not in by_stem]
            if missing:
                raise ConfigError(f"dataset.masks: no mask for image {missing[0]!r} in {str(where)!r}")
            masks = [by_stem[i] for i in ids]
            check_masks(files, masks, "dataset.masks")
        return Dataset(ids, file_reader(files, self.size, labels, masks), labels, masks is not None)


def read_labels(path: Path, ids: list[str]) -> list[int]:
    """Labels from a CSV with columns ``image,label`` (image = file name or stem), one per id."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"image", "label"} <= set(reader.fieldnames):
            raise ConfigError(f"dataset.labels: {str(path)!r} needs the columns image,label")
        table = {}
        for row in reader:
            try:
                table[Path(row["image"]).stem] = int(row["label"])
            except ValueError:
                raise ConfigError(f"dataset.labels: label {row['label']!r} of {row['image']!r} is not an int") from None
    missing = [i for i in ids if i not in table]
    if missing:
        raise ConfigError(f"dataset.labels: no label for {', '.join(missing[:5])} in {str(path)!r}")
    return [table[i] for i in ids]
