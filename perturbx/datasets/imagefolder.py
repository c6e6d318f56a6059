"""``kind: imagefolder``: one sub-folder per class (torchvision's ImageFolder layout), with a class-index map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from perturbx.datasets.base import Dataset, DatasetSpec, file_reader, header_size, image_files, resolve
from perturbx.errors import ConfigError


class ImageFolderSet(DatasetSpec):
    """``path/<class>/<image>``: the label is the class's index, from ``classes`` (a JSON map class name ->
    index, relative to the folder) or else the sorted sub-folder names (0, 1, …). Ids are ``class/stem``."""

    kind: Literal["imagefolder"]
    path: str = Field(description="folder with one sub-folder of images per class")
    size: int | None = Field(224, ge=8, description="resize + centre-crop to this square; null keeps the size")
    classes: str | None = Field(None, description="JSON file mapping class (sub-folder) name to class index")

    def open(self, root: Path) -> Dataset:
        """Validate the layout and the class map; pixels are read later, image by image."""
        folder = resolve(root, self.path, "dataset.path")
        names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not names:
            raise ConfigError(f"dataset.path: no class sub-folders in {str(folder)!r}")
        index = self._index(folder, names)
        files, labels = [], []
        for name in names:
            for path in image_files(folder / name, f"dataset.path ({name})"):
                header_size(path, "dataset.path")
                files.append(path)
                labels.append(index[name])
        ids = [f"{p.parent.name}/{p.stem}" for p in files]
        return Dataset(ids, file_reader(files, self.size, labels, ids=ids), labels)

    def _index(self, folder: Path, names: list[str]) -> dict[str, int]:
        if self.classes is None:
            return {name: k for k, name in enumerate(names)}
        path = resolve(folder, self.classes, "dataset.classes", directory=False)
        try:
            table = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"dataset.classes: {str(path)!r} is not JSON ({err.__class__.__name__})") from None
        if not isinstance(table, dict) or not all(isinstance(v, int) and v >= 0 for v in table.values()):
            raise ConfigError(f"dataset.classes: {str(path)!r} must map class names to indices >= 0")
        missing = [name for name in names if name not in table]
        if missing:
            raise ConfigError(f"dataset.classes: no index for the sub-folder {missing[0]!r} in {str(path)!r}")
        return {name: table[name] for name in names}
