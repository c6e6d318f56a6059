"""The view contract: ``count`` copies of an image, each with a way back to the image's frame."""

from __future__ import annotations

from typing import ClassVar

import torch

from perturbx.registry import Component


class View(Component):
    """A pipeline runs every partition on every view ``k``: the model sees :meth:`show` of the image,
    and the job's pixel map returns to the original frame through :meth:`back`."""

    kind: ClassVar[str] = "view"

    def count(self) -> int:
        """How many views of each image."""
        return 1

    def show(self, image: torch.Tensor, k: int) -> torch.Tensor:
        """View ``k`` of an image (or map) ``[..., H, W]``."""
        return image

    def back(self, pixels: torch.Tensor, k: int) -> torch.Tensor:
        """A map ``[..., H, W]`` made on view ``k``, in the original image's frame."""
        return pixels
