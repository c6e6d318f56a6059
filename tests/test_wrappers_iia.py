"""IIA on CNNs: closed form on positively homogeneous networks, batching, triple form."""

from __future__ import annotations

import pytest
import torch
from test_wrappers_support import images, logits, small_cnn
from torch import nn

import perturbx as px
from perturbx.errors import PerturbxError


def homogeneous(depth: int) -> nn.Sequential:
    """Bias-free conv-ReLU layers, global average pool and a linear head with positive weights for
    class 0: every activation scales linearly with its input, and ∂y/∂a is constant."""
    torch.manual_seed(2)
    layers: list[nn.Module] = []
    channels = 3
    for _ in range(depth):
        layers += [nn.Conv2d(channels, 6, 3, padding=1, bias=False), nn.ReLU()]
        channels = 6
    head = nn.Linear(6, 3)
    with torch.no_grad():
        head.weight[0].uniform_(0.1, 1.0)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()


@pytest.mark.parametrize("depth,layers", [(1, ["1"]), (2, ["1", "3"])])
def test_iia_reduces_to_hirescam_on_homogeneous_networks(depth: int, layers: list[str]) -> None:
    model, x = homogeneous(depth), images(2)
    iia = px.build("explainer", {"name": "iia", "steps": 3, "layers": layers}).explain(logits(model), x, 0)
    hires = px.build("explainer", {"name": "hirescam", "layers": layers[-1]}).explain(logits(model), x, 0)
    assert iia.meta["points_per_image"] == 3 ** (1 + len(layers))
    assert iia.n_queries == 2 * (1 + 3 ** (1 + len(layers)))
    assert torch.allclose(iia.maps, hires.maps, atol=1e-3)  # the min-max eps (1e-7) acts on different scales


def test_iia_takes_at_most_two_layers() -> None:
    with pytest.raises(PerturbxError, match="one layer"):
        px.build("explainer", {"name": "iia", "layers": ["1", "3", "5"]}).explain(small_cnn(), images(1))
