"""Every wrapper leaves the model as it found it: hooks, requires_grad, train/eval, .grad — after
success and after a failure half way (in the backward or in a later forward pass)."""

from __future__ import annotations

import pytest
import torch
from test_wrappers_support import images, logits
from torch import nn

import perturbx as px
from perturbx import registry

FAST = {
    "integrated_gradients": {"steps": 3},
    "smoothgrad": {"n_samples": 3},
    "blur_ig": {"steps": 3},
    "guided_ig": {"steps": 3},
    "iia": {"steps": 2},
    "iia_triple": {"steps": 2},
    "combined": {"gradient": "saliency", "cam": "gradcam"},
    "gradient_shap": {"n_samples": 2},
    "expected_gradients": {"n_samples": 2},
}
CNN_ONLY_SKIP = {"attention_rollout", "vit_iia"}


class Bomb(torch.autograd.Function):
    """Identity forward; the backward raises."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom in backward")


class Fragile(nn.Module):
    """A small CNN with batch norm and dropout that can fail in its backward or at its n-th forward."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.fc = nn.Sequential(nn.Dropout(0.1), nn.Linear(8, 4))
        self.fail_backward = False
        self.fail_at_call = 0
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.fail_at_call and self.calls >= self.fail_at_call:
            raise RuntimeError("boom in forward")
        a = self.features(x)
        if self.fail_backward:
            a = Bomb.apply(a)
        return self.fc(a.mean(dim=(2, 3)))


def snapshot(model: nn.Module) -> dict:
    return {
        "hooks": [(name, {d: len(getattr(m, d)) for d in vars(m) if d.endswith("hooks")})
                  for name, m in model.named_modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "training": [m.training for m in model.modules()],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
    }


def same(a: dict, b: dict) -> bool:
    grads = all((x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
                for x, y in zip(a["grads"], b["grads"]))
    return a["hooks"] == b["hooks"] and a["requires_grad"] == b["requires_grad"] and a["training"] == b["training"] \
        and grads


def wrappers() -> list[str]:
    return [name for name, cls in registry.catalogue("explainer")["explainer"].items()
            if cls.__module__.startswith("perturbx.wrappers.") and name not in CNN_ONLY_SKIP]


def fragile() -> Fragile:
    model = Fragile().train()
    model.features[0].weight.requires_grad_(False)
    model.fc[1].weight.grad = torch.ones_like(model.fc[1].weight)
    model.features[3].register_forward_hook(lambda m, i, o: None)  # the caller's own hook must survive
    return model


@pytest.mark.parametrize("name", wrappers())
def test_model_untouched_after_success(name: str) -> None:
    model = fragile()
    before = snapshot(model)
    exp = px.build("explainer", {"name": name, **FAST.get(name, {})}).explain(logits(model), images(2), [1, 2])
    assert exp.maps.shape == (2, 1, 32, 32) and torch.isfinite(exp.maps).all()
    assert same(before, snapshot(model))


@pytest.mark.parametrize("name", wrappers())
@pytest.mark.parametrize("failure", ["backward", "first_forward", "second_forward"])
def test_model_untouched_after_failure(name: str, failure: str) -> None:
    model = fragile()
    model.fail_backward = failure == "backward"
    model.fail_at_call = {"backward": 0, "first_forward": 1, "second_forward": 2}[failure]
    before = snapshot(model)
    explainer = px.build("explainer", {"name": name, **FAST.get(name, {})})
    try:
        explainer.explain(logits(model), images(2), [1, 2])
    except RuntimeError as err:
        assert "boom" in str(err)
    model.fail_backward, model.fail_at_call = False, 0
    assert same(before, snapshot(model))
