"""Small models shared by the wrapper tests (no tests here)."""

from __future__ import annotations

import torch
from torch import nn

from perturbx.models.adapter import ModelAdapter


def small_cnn(seed: int = 0, classes: int = 5) -> nn.Sequential:
    """conv-relu ×3 (with a max-pool), global average pool, linear: a 3×32×32 classifier."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes),
    )
    return model.eval()


def logits(model: nn.Module) -> ModelAdapter:
    """An adapter scoring logits with a fixed batch size (no tuning in tests)."""
    return ModelAdapter(model, output="logit", batch_size=8, channels_last=False)


def images(n: int = 3, seed: int = 1, size: int = 32) -> torch.Tensor:
    """Random images in [0,1]."""
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))
