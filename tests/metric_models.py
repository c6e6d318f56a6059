"""Tiny models with known outputs, shared by the metric tests."""

from __future__ import annotations

import torch
from torch import nn

from perturbx import Explainer, Explanation, ModelAdapter
from perturbx.targets import TargetSpec, resolve_targets


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


class InputTimesGradient(Explainer):
    """Σ_c x·∂f/∂x: exact for linear models; a small deterministic explainer for sanity and robustness tests."""

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        x = x.clone().requires_grad_(True)
        with torch.enable_grad():
            out = adapter.forward(x)
            targets = resolve_targets(target, out.detach())
            total = sum(fn(out[b:b + 1])[0] for b, fn in enumerate(targets.fns))
            (grad,) = torch.autograd.grad(total, x)
        return Explanation((grad * x).sum(1, keepdim=True).detach().cpu(), targets.classes, x.shape[0], "ixg")


class ImageItself(Explainer):
    """The channel mean of the input, whatever the model: an 'explanation' that must fail sanity checks."""

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        return Explanation(x.mean(1, keepdim=True).cpu(), None, 0, "image")
