"""``create_graph=True``: maps that carry gradients to the input and to the parameters (float64
gradcheck on a tiny smooth model), the model left as found, and clear refusals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.models.adapter import ModelAdapter

METHODS = {
    "saliency": {"reduce": "sum"},
    "input_x_gradient": {},
    "integrated_gradients": {"steps": 4, "baseline": "zeros"},
    "gradcam": {"layers": "1"},
    "deeplift": {"baseline": 0.5},
    "gradient_shap": {"baselines": 0.5, "n_samples": 2, "sigma": 0.1},
}


def smooth_net() -> nn.Sequential:
    """conv-tanh-conv-softplus, global mean, linear, in float64: smooth, so second derivatives exist."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(3, 3, 3, padding=1),
        nn.Softplus(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 2),
    )
    return model.double().eval()


def image() -> torch.Tensor:
    return 0.2 + 0.6 * torch.rand(1, 2, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def maps_of(name: str, model: nn.Module) -> callable:
    explainer = px.build("explainer", {"name": name, "create_graph": True, **METHODS[name]})
    adapter = ModelAdapter(model, output="logit", batch_size=4, channels_last=False)
    return lambda x: explainer.explain(adapter, x, 1).maps


@pytest.mark.parametrize("name", list(METHODS))
def test_maps_pass_gradcheck_with_respect_to_the_input(name: str) -> None:
    model = smooth_net()
    x = image().requires_grad_(True)
    assert torch.autograd.gradcheck(maps_of(name, model), (x,), eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)


@pytest.mark.parametrize("name", list(METHODS))
def test_map_gradients_reach_the_parameters_and_match_finite_differences(name: str) -> None:
    model = smooth_net()
    weight = model[2].weight
    modes, flags = [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]
    fn = maps_of(name, model)
    loss = fn(image()).pow(2).sum()
    (grad,) = torch.autograd.grad(loss, weight)
    assert all(p.grad is None for p in model.parameters())  # explaining never writes .grad
    assert [m.training for m in model.modules()] == modes and [p.requires_grad for p in model.parameters()] == flags
    index, h = (0, 1, 1, 2), 1e-6
    with torch.no_grad():
        weight[index] += h
        up = fn(image()).pow(2).sum()
        weight[index] -= 2 * h
        down = fn(image()).pow(2).sum()
        weight[index] += h
    assert float(grad[index]) == pytest.approx(float((up - down) / (2 * h)), rel=1e-4, abs=1e-8)


def test_without_create_graph_maps_are_detached_float32_on_the_cpu() -> None:
    adapter = ModelAdapter(smooth_net(), batch_size=4, channels_last=False)
    exp = px.build("explainer", {"name": "saliency"}).explain(adapter, image(), 1)
    assert not exp.maps.requires_grad and exp.maps.dtype == torch.float32


@pytest.mark.parametrize("name", ["scorecam", "ablationcam", "guided_ig", "eigencam"])
def test_methods_that_cannot_differentiate_say_why(name: str) -> None:
    with pytest.raises(PerturbxError, match=r"create_graph.*cannot give differentiable maps"):
        px.build("explainer", {"name": name, "create_graph": True})
