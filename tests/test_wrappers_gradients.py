"""Gradient methods: agreement with Captum, IG completeness, per-image batching, baselines."""

from __future__ import annotations

import pytest
import torch
from test_wrappers_support import images, logits, small_cnn
from torch import nn

import perturbx as px
from perturbx.errors import PerturbxError

CLASSES = [0, 3, 1]


def ours(name: str, model: nn.Module, x: torch.Tensor, batch_size: int | None = None, **params: object
         ) -> px.Explanation:
    explainer = px.build("explainer", {"name": name, **params})
    return explainer.explain(logits(model), x, torch.tensor(CLASSES), batch_size=batch_size)


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return float((a - b).abs().max().detach()) < tol


def test_saliency_matches_captum() -> None:
    captum = pytest.importorskip("captum.attr")
    model, x = small_cnn(), images(3)
    exp = ours("saliency", model, x)
    theirs = captum.Saliency(model).attribute(x, target=CLASSES, abs=False)
    assert close(exp.meta["attributions"], theirs)
    assert close(exp.maps, theirs.abs().amax(dim=1, keepdim=True))
    assert exp.n_queries == 3


def test_input_x_gradient_matches_captum() -> None:
    captum = pytest.importorskip("captum.attr")
    model, x = small_cnn(), images(3)
    exp = ours("input_x_gradient", model, x)
    theirs = captum.InputXGradient(model).attribute(x, target=CLASSES)
    assert close(exp.meta["attributions"], theirs)
    assert close(exp.maps, theirs.sum(dim=1, keepdim=True))


@pytest.mark.parametrize("rule", ["riemann_left", "riemann_right", "riemann_middle", "gausslegendre"])
def test_integrated_gradients_matches_captum(rule: str) -> None:
    captum = pytest.importorskip("captum.attr")
    model, x = small_cnn(), images(3)
    exp = ours("integrated_gradients", model, x, steps=8, rule=rule, baseline="zeros", batch_size=7)
    theirs = captum.IntegratedGradients(model).attribute(x, baselines=0.0, target=CLASSES, n_steps=8, method=rule)
    assert close(exp.meta["attributions"], theirs)
    assert exp.n_queries == 3 * 8  # class targets given: no inference pass to resolve them


def test_integrated_gradients_custom_baseline_matches_captum() -> None:
    captum = pytest.importorskip("captum.attr")
    model, x = small_cnn(), images(3)
    base = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    exp = ours("integrated_gradients", model, x, steps=16, baseline=base)
    theirs = captum.IntegratedGradients(model).attribute(x, baselines=base.expand_as(x), target=CLASSES, n_steps=16)
    assert close(exp.meta["attributions"], theirs)


@pytest.mark.parametrize(
    "variant,nt_type", [("mean", "smoothgrad"), ("squared", "smoothgrad_sq"), ("vargrad", "vargrad")])
def test_smoothgrad_matches_captum_with_the_same_noise(variant: str, nt_type: str, monkeypatch) -> None:
    captum = pytest.importorskip("captum.attr")
    model, x = small_cnn(), images(3)
    explainer = px.build("explainer", {"name": "smoothgrad", "n_samples": 6, "sigma": 0.1,
                                       "noise_scale": "absolute", "variant": variant})
    exp = explainer.explain(logits(model), x, torch.tensor(CLASSES), batch_size=4)
    noise = torch.cat([explainer.noise(image, 6) for image in x])  # captum's row order: image-major
    monkeypatch.setattr(torch, "normal", lambda mean, std: noise)
    theirs = captum.NoiseTunnel(captum.Saliency(model)).attribute(
        x, nt_type=nt_type, nt_samples=6, stdevs=0.1, target=CLASSES, abs=False)
    assert close(exp.meta["attributions"], theirs)


class Smooth(nn.Module):
    """A smooth nonlinear classifier: softplus features, a quadratic and a linear readout."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv2d(3, 4, 5, stride=2, padding=2)
        self.fc = nn.Linear(4 * 16 * 16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.softplus(self.conv(x) * 3).flatten(1)
        return self.fc(h) + 0.1 * (h**2).mean(dim=1, keepdim=True)


@pytest.mark.parametrize("rule", ["riemann_trapezoid", "riemann_right", "gausslegendre"])
def test_integrated_gradients_completeness_error_shrinks_with_steps(rule: str) -> None:
    model, x = Smooth().double(), images(2).double()
    with torch.no_grad():
        gaps = model(x)[torch.arange(2), [0, 2]] - model(torch.full_like(x, 0.5))[torch.arange(2), [0, 2]]
    errors = []
    for steps in (2, 4, 16):
        exp = px.build("explainer", {"name": "integrated_gradients", "steps": steps, "baseline": 0.5,
                                     "rule": rule, "reduce": "sum"}).explain(logits(model), x, [0, 2])
        errors.append(float((exp.meta["attributions"].sum(dim=(1, 2, 3)) - gaps).abs().max()))
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 0.02 * float(gaps.abs().max())


def test_baselines() -> None:
    from perturbx.wrappers.baselines import make_baseline

    x = images(2)
    assert torch.equal(make_baseline("image_min", x)[1], torch.full((3, 32, 32), float(x[1].min())))
    assert torch.equal(make_baseline("image_max", x)[0], torch.full((3, 32, 32), float(x[0].max())))
    assert torch.equal(make_baseline("zeros", x), torch.zeros_like(x))
    assert make_baseline("blur", x).std() < x.std()
    assert torch.equal(make_baseline(0.25, x), torch.full_like(x, 0.25))
    with pytest.raises(PerturbxError, match="baseline"):
        px.build("explainer", {"name": "integrated_gradients", "baseline": torch.zeros(5, 5)}).explain(small_cnn(), x)
    with pytest.raises(PerturbxError, match="baseline"):
        px.build("explainer", {"name": "integrated_gradients", "baseline": "grey"})
    with pytest.raises(PerturbxError, match="'black' was renamed 'image_min'"):
        px.build("explainer", {"name": "integrated_gradients", "baseline": "black"})
    with pytest.raises(PerturbxError, match="'white' was renamed 'image_max'"):
        make_baseline("white", x)


def test_class_targets_cost_no_extra_pass_and_are_range_checked_at_the_first_call() -> None:
    model, x = small_cnn(), images(3)
    explainer = px.build("explainer", {"name": "integrated_gradients", "steps": 4, "baseline": "zeros"})
    given = explainer.explain(logits(model), x, torch.tensor(CLASSES))
    predicted = explainer.explain(logits(model), x)
    assert given.n_queries == 3 * 4 and predicted.n_queries == 3 + 3 * 4
    with pytest.raises(PerturbxError, match="class 5 is out of range for a model with 5 outputs"):
        explainer.explain(logits(model), x, 5)
