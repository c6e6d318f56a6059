"""The small CNN trained on the synthetic ground-truth benchmark (perturbx.data.synthetic)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from perturbx.data.synthetic import CLASSES
from perturbx.models.classifier import ImageClassifier

WIDTHS = (24, 48, 64, 96)
MEAN = STD = (0.5, 0.5, 0.5)
WEIGHTS = "weights/synthetic_cnn.pt"  # inside the perturbx.models package


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class SyntheticCNN(nn.Module):
    """Four conv-BN-ReLU blocks (the first three with stride 2), global average pool, linear head.

    Strided convolutions instead of pooling keep it cheap enough to train on a CPU in minutes.
    ``features.3`` is the last conv block, at 1/8 of the input resolution: the Grad-CAM layer.
    """

    def __init__(self, n_classes: int = len(CLASSES), widths: Sequence[int] = WIDTHS) -> None:
        super().__init__()
        channels = (3, *widths)
        self.features = nn.Sequential(
            *(_block(channels[i], channels[i + 1], 2 if i < len(widths) - 1 else 1) for i in range(len(widths)))
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


def classifier(net: SyntheticCNN) -> ImageClassifier:
    """``net`` as an :class:`ImageClassifier`: inputs in [0,1] mapped to [-1,1], the benchmark's class names."""
    return ImageClassifier(net, MEAN, STD, CLASSES, "synthetic_cnn", input_size=64, target_layer="net.features.3")


def cast(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """A state dict with its floating-point tensors in ``dtype`` (the weights ship as float16)."""
    return {key: value.to(dtype) if value.is_floating_point() else value for key, value in state.items()}
