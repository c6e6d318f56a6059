"""Streaming datasets for experiments and folder runs: a folder (labels CSV, masks folder), the ImageFolder
layout, a CSV/JSON manifest, the bundled photos and the synthetic set. Ids and labels are known up front;
pixels are read chunk by chunk."""

from typing import Annotated

from pydantic import Field

from perturbx.datasets.base import IMAGE_SUFFIXES, Dataset, Item
from perturbx.datasets.bundled import BundledSet
from perturbx.datasets.folder import FolderSet
from perturbx.datasets.imagefolder import ImageFolderSet
from perturbx.datasets.manifest import ManifestSet
from perturbx.datasets.synthetic import SyntheticSet

DatasetSpec = Annotated[
    BundledSet | FolderSet | ImageFolderSet | ManifestSet | SyntheticSet, Field(discriminator="kind")
]

__all__ = ["IMAGE_SUFFIXES", "BundledSet", "Dataset", "DatasetSpec", "FolderSet", "ImageFolderSet", "Item",
           "ManifestSet", "SyntheticSet"]
