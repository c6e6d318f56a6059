"""A streaming dataset: ids, labels and where each image lives are known up front; pixels are read
one image (or one chunk) at a time, so no step holds the whole dataset in memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict

from perturbx.errors import ConfigError, PerturbxError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class Item:
    """One image ``[1,C,H,W]`` in [0,1] with its id, class label and ground-truth mask ``[1,H,W]`` (or None)."""

    id: str
    image: torch.Tensor
    label: int | None = None
    mask: torch.Tensor | None = None


Reader = Callable[[Sequence[int]], list[Item]]


class Dataset:
    """``ids`` and ``labels`` in memory; images (and masks) read on demand by ``read(indices)``."""

    def __init__(self, ids: list[str], read: Reader, labels: list[int] | None = None, has_masks: bool = False) -> None:
        if len(set(ids)) != len(ids):
            raise ConfigError("dataset: two images share an id")
        self.ids = ids
        self.labels = labels
        self.has_masks = has_masks
        self._read = read

    def __len__(self) -> int:
        return len(self.ids)

    def item(self, k: int) -> Item:
        """Image ``k``, read now."""
        return self._read([k])[0]

    def items(self, indices: Sequence[int]) -> list[Item]:
        """The images at ``indices``, read now (one chunk)."""
        return self._read(list(indices))

    def chunks(self, size: int, indices: Sequence[int] | None = None) -> Iterator[list[Item]]:
        """The images (all, or ``indices``) in chunks of ``size``; only one chunk is alive at a time."""
        order = list(range(len(self))) if indices is None else list(indices)
        for start in range(0, len(order), size):
            yield self._read(order[start : start + size])


class DatasetSpec(BaseModel):
    """Base of the dataset kinds of the experiment YAML; ``open(root)`` validates and returns a ``Dataset``."""

    model_config = ConfigDict(extra="forbid")

    def open(self, root: Path) -> Dataset:
        """The dataset, validated (every file present and readable as an image, masks of the right size)."""
        raise NotImplementedError


def resolve(root: Path, name: str, field: str, directory: bool = True) -> Path:
    """``name`` relative to ``root`` (``~`` expanded), which must be an existing folder (or file)."""
    path = Path(name).expanduser()
    path = path if path.is_absolute() else root / path
    if not (path.is_dir() if directory else path.is_file()):
        raise ConfigError(f"{field}: no such {'folder' if directory else 'file'} {str(path)!r}")
    return path


def image_files(folder: Path, field: str) -> list[Path]:
    """The image files of ``folder`` sorted by name; an error naming ``field`` when there are none."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"{field}: no images ({', '.join(IMAGE_SUFFIXES)}) in {str(folder)!r}")
    return files


def header_size(path: Path, field: str) -> tuple[int, int]:
    """``(height, width)`` from the file header, without decoding the pixels; unreadable files raise."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise PerturbxError(f"{field}: {str(path)!r} is not a readable image ({type(err).__name__})") from None
    return height, width


def check_masks(images: Sequence[Path], masks: Sequence[Path], field: str) -> None:
    """Every mask has its image's size (read from the headers), so resizing never hides a mismatch."""
    for image, mask in zip(images, masks):
        shape, mask_shape = header_size(image, "dataset"), header_size(mask, field)
        if shape != mask_shape:
            raise ConfigError(f"{field}: the mask {mask.name!r} is {mask_shape[0]}x{mask_shape[1]}, its image "
                              f"{image.name!r} is {shape[0]}x{shape[1]}")


def file_reader(paths: Sequence[Path], size: int | None, labels: Sequence[int] | None = None,
                masks: Sequence[Path] | None = None, ids: Sequence[str] | None = None) -> Reader:
    """A reader of image files (and mask files, non-zero = inside) resized like ``perturbx.data.image``;
    ids default to the file stems."""
    from perturbx import data

    ids = [p.stem for p in paths] if ids is None else ids

    def read(indices: Sequence[int]) -> list[Item]:
        items = []
        for k in indices:
            image = data.image(paths[k], size)
            mask = data.image(masks[k], size)[:, 0] > 0.5 if masks is not None else None
            items.append(Item(ids[k], image, labels[k] if labels is not None else None, mask))
        return items

    return read
