"""``kind: manifest``: a CSV or JSON list of ``path,label[,mask]`` rows (paths relative to the list)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from perturbx.datasets.base import Dataset, DatasetSpec, check_masks, file_reader, header_size, resolve
from perturbx.errors import ConfigError


class ManifestSet(DatasetSpec):
    """Rows ``path,label[,mask]`` from a ``.csv`` (with a header) or a ``.json`` list of objects; ids are
    the paths as written. ``label`` may be empty (no labels) only if it is empty in every row."""

    kind: Literal["manifest"]
    path: str = Field(description="CSV or JSON list, relative to the experiment YAML")
    size: int | None = Field(224, ge=8, description="resize + centre-crop to this square; null keeps the size")

    def open(self, root: Path) -> Dataset:
        """Validate every row (files present and readable, masks of the image's size)."""
        listing = resolve(root, self.path, "dataset.path", directory=False)
        rows = _rows(listing)
        if not rows:
            raise ConfigError(f"dataset.path: {str(listing)!r} lists no images")
        ids = [str(row.get("path") or "") for row in rows]
        if "" in ids:
            raise ConfigError(f"dataset.path: row {ids.index('') + 1} of {str(listing)!r} has no path")
        files = [_file(listing.parent, name, f"dataset.path: row {k + 1} of {listing.name}") for k, name in
                 enumerate(ids)]
        for path in files:
            header_size(path, "dataset.path")
        labels = _labels(rows, listing)
        given = [bool(row.get("mask")) for row in rows]
        masks = None
        if any(given):
            if not all(given):
                raise ConfigError(f"dataset.path: row {given.index(False) + 1} of {listing.name} has no mask; give "
                                  "a mask in every row or in none")
            masks = [_file(listing.parent, str(row["mask"]), f"dataset.path: mask of row {k + 1} of {listing.name}")
                     for k, row in enumerate(rows)]
            check_masks(files, masks, "dataset.masks")
        return Dataset(ids, file_reader(files, self.size, labels, masks, ids=ids), labels, masks is not None)


def _rows(listing: Path) -> list[dict[str, Any]]:
    if listing.suffix.lower() == ".json":
        try:
            rows = json.loads(listing.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"dataset.path: {str(listing)!r} is not JSON ({type(err).__name__})") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ConfigError(f"dataset.path: {str(listing)!r} must hold a list of {{path, label, mask}} objects")
        return rows
    if listing.suffix.lower() != ".csv":
        raise ConfigError(f"dataset.path: expected a .csv or .json list, got {listing.name!r}")
    with open(listing, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "path" not in reader.fieldnames:
            raise ConfigError(f"dataset.path: {str(listing)!r} needs a header with the column path (and label, mask)")
        return list(reader)


def _file(folder: Path, name: str, where: str) -> Path:
    path = Path(name).expanduser()
    path = path if path.is_absolute() else folder / path
    if not path.is_file():
        raise ConfigError(f"{where}: no such image {name!r}")
    return path


def _labels(rows: list[dict[str, Any]], listing: Path) -> list[int] | None:
    values = [row.get("label") for row in rows]
    if all(v in (None, "") for v in values):
        return None
    labels = []
    for k, value in enumerate(values):
        try:
            label = int(value)
        except (TypeError, ValueError):
            label = -1
        if label < 0 or (isinstance(value, float) and value != label):
            raise ConfigError(f"dataset.path: row {k + 1} of {listing.name} has the label {value!r}, not a class "
                              "index >= 0")
        labels.append(label)
    return labels
