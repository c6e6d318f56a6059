"""Experiment datasets: a folder of images with optional labels and masks, bundled photos, or the
synthetic ground-truth set. Every image has a stable id, the key of its rows in the results store."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from perturbx.errors import ConfigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class Dataset:
    """Images ``[1,C,H,W]`` in [0,1] by id, with optional class labels and ground-truth masks ``[1,H,W]``."""

    ids: list[str]
    images: list[torch.Tensor]
    labels: list[int] | None = None
    masks: list[torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.ids)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BundledSet(_Spec):
    """Bundled photos by name (``perturbx.data.BUNDLED_IMAGES``); no labels or masks."""

    kind: Literal["bundled"]
    images: list[str] = Field(min_length=1, description="bundled photo names")
    size: int = Field(224, ge=8, description="shorter side resized, then centre-cropped square")

    def load(self, root: Path) -> Dataset:
        """Read the named photos, resized and centre-cropped."""
        from perturbx import data

        images = [data.image(name, self.size) for name in self.images]
        return Dataset(list(self.images), images)


class FolderSet(_Spec):
    """Every image file of a folder (sorted by name; id = file stem), optional ``labels`` CSV (columns
    ``image,label``; image = file name or stem) and ``masks`` folder (a mask image per stem, non-zero = inside)."""

    kind: Literal["folder"]
    path: str = Field(description="folder of images, relative to the experiment YAML")
    size: int | None = Field(224, ge=8, description="resize + centre-crop to this square; null keeps the size")
    labels: str | None = Field(None, description="CSV of image,label (relative to the folder)")
    masks: str | None = Field(None, description="folder of ground-truth masks named like the images")

    def load(self, root: Path) -> Dataset:
        """Read every image of the folder (with labels and masks when given); paths relative to ``root``."""
        from perturbx import data

        folder = _resolve(root, self.path, "dataset.path")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ConfigError(f"dataset.path: no images ({', '.join(IMAGE_SUFFIXES)}) in {str(folder)!r}")
        ids = [p.stem for p in files]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"dataset.path: two images share a name stem in {str(folder)!r}")
        originals = [data.read(p) for p in files]
        images = [data.image(t, self.size) for t in originals]
        labels = self._labels(folder, ids) if self.labels else None
        masks = self._masks(folder, ids, originals) if self.masks else None
        return Dataset(ids, images, labels, masks)

    def _labels(self, folder: Path, ids: list[str]) -> list[int]:
        path = _resolve(folder, self.labels, "dataset.labels", directory=False)
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"image", "label"} <= set(reader.fieldnames):
                raise ConfigError(f"dataset.labels: {str(path)!r} needs the columns image,label")
            table = {}
            for row in reader:
                try:
                    table[Path(row["image"]).stem] = int(row["label"])
                except ValueError:
                    raise ConfigError(f"dataset.labels: label {row['label']!r} of {row['image']!r} is not an "
                                      "int") from None
        missing = [i for i in ids if i not in table]
        if missing:
            raise ConfigError(f"dataset.labels: no label for {', '.join(missing[:5])} in {str(path)!r}")
        return [table[i] for i in ids]

    def _masks(self, folder: Path, ids: list[str], images: list[torch.Tensor]) -> list[torch.Tensor]:
        from perturbx import data

        where = _resolve(folder, self.masks, "dataset.masks")
        files = {p.stem: p for p in where.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
        masks = []
        for i, image in zip(ids, images):
            if i not in files:
                raise ConfigError(f"dataset.masks: no mask for image {i!r} in {str(where)!r}")
            mask = data.read(files[i])
            if mask.shape[-2:] != image.shape[-2:]:  # compared before resizing: a resize would hide the mismatch
                raise ConfigError(f"dataset.masks: the mask of {i!r} is {tuple(mask.shape[-2:])}, the image "
                                  f"{tuple(image.shape[-2:])}")
            masks.append(data.image(mask, self.size)[:, 0] > 0.5)
        return masks


class SyntheticSet(_Spec):
    """The synthetic ground-truth set (``perturbx.data.synthetic``): labels and target-object masks."""

    kind: Literal["synthetic"]
    n: int = Field(ge=1, description="number of images")
    seed: int = Field(0, ge=0, description="seed of the set")
    size: int = Field(64, ge=32, description="image side in pixels")

    def load(self, root: Path) -> Dataset:
        """Generate the synthetic images with their labels and target-object masks."""
        from perturbx import data

        made = data.synthetic(self.n, self.seed, self.size)
        ids = [f"synthetic-{self.seed}-{k:04d}" for k in range(self.n)]
        return Dataset(ids, [x[None] for x in made.images], made.labels.tolist(), [m for m in made.masks])


DatasetSpec = Annotated[BundledSet | FolderSet | SyntheticSet, Field(discriminator="kind")]


def _resolve(root: Path, name: str, field: str, directory: bool = True) -> Path:
    path = Path(name).expanduser()
    path = path if path.is_absolute() else root / path
    if not (path.is_dir() if directory else path.is_file()):
        raise ConfigError(f"{field}: no such {'folder' if directory else 'file'} {str(path)!r}")
    return path
