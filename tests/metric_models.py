"""Tiny models with known outputs, shared by the metric tests."""

from __future__ import annotations

import torch
from torch import nn


class MeanModel(nn.Module):
    """Two logits: the mean of all pixels and its negative; deleting pixels towards 0 has a known curve."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([m, -m], dim=1)


class LinearModel(nn.Module):
    """Logit 0 = Σ w·x (and logit 1 = its negative): the exact gradient×input map is w·x."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (x * self.weight).flatten(1).sum(1)
        return torch.stack([s, -s], dim=1)


def tiny_cnn(seed: int = 0, classes: int = 5) -> nn.Module:
    """A random 2-conv classifier for 3-channel images."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, classes),
    ).eval()
