"""A classifier that takes images in [0,1]: normalisation inside, class names attached."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class ImageClassifier(nn.Module):
    """``net`` preceded by its input normalisation; ``categories`` names the outputs."""

    def __init__(
        self,
        net: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        categories: Sequence[str] | None = None,
        name: str = "",
        input_size: int = 224,
        target_layer: str | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.categories = list(categories) if categories is not None else None
        self.name = name
        self.input_size = input_size
        self.target_layer = target_layer

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std)

    def label(self, index: int) -> str:
        """The class name for an output index (the index itself when names are unknown)."""
        if self.categories and 0 <= index < len(self.categories):
            return self.categories[index]
        return f"class {index}"
