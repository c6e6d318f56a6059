"""Blur IG, Guided IG and guided backprop: completeness along their paths, Captum agreement, batching."""

from __future__ import annotations

import pytest
import torch
from test_wrappers_gradients import Smooth
from test_wrappers_support import images, logits, small_cnn

import perturbx as px


def gap(model: torch.nn.Module, x: torch.Tensor, base: torch.Tensor, classes: list[int]) -> torch.Tensor:
    with torch.no_grad():
        rows = torch.arange(len(x))
        return model(x)[rows, classes] - model(base)[rows, classes]


def test_guided_backprop_matches_captum() -> None:
    captum = pytest.importorskip("captum.attr")
    model, x, classes = small_cnn(), images(3), [0, 3, 1]
    exp = px.build("explainer", "guided_backprop").explain(logits(model), x, classes)
    theirs = captum.GuidedBackprop(model).attribute(x, target=classes).detach()
    assert float((exp.meta["attributions"] - theirs).abs().max()) < 1e-5
    plain = captum.Saliency(model).attribute(x, target=classes, abs=False).detach()
    assert float((exp.meta["attributions"] - plain).abs().max()) > 1e-4  # the guidance changes something


def test_blur_ig_is_complete_along_the_blur_path() -> None:
    from perturbx.wrappers.blur_ig import blur_stack

    model, x, classes = Smooth().double(), images(2).double(), [0, 2]
    exp = px.build("explainer", {"name": "blur_ig", "steps": 60, "max_sigma": 3.0, "grad_step": 0.001}).explain(
        logits(model), x, classes)
    target = gap(model, x, torch.cat([blur_stack(image, [3.0]) for image in x]), classes)
    total = exp.meta["attributions"].sum(dim=(1, 2, 3))
    assert float(((total - target) / target.abs()).abs().max()) < 0.05


def test_guided_ig_is_complete_along_its_path() -> None:
    model, x, classes = Smooth().double(), images(2).double(), [0, 2]
    exp = px.build("explainer", {"name": "guided_ig", "steps": 64, "baseline": "zeros"}).explain(
        logits(model), x, classes)
    target = gap(model, x, torch.zeros_like(x), classes)
    total = exp.meta["attributions"].sum(dim=(1, 2, 3))
    assert float(((total - target) / target.abs()).abs().max()) < 0.05
    assert exp.n_queries == 2 * 64  # class targets given: no inference pass to resolve them


def test_blur_stack_matches_one_blur_at_a_time() -> None:
    from perturbx.perturb.filters import gaussian_blur
    from perturbx.wrappers.blur_ig import blur_stack

    image = images(1)[0]
    stack = blur_stack(image, [0.0, 0.5, 2.0])
    assert torch.equal(stack[0], image)
    for row, sigma in ((1, 0.5), (2, 2.0)):
        assert torch.allclose(stack[row], gaussian_blur(image[None], sigma)[0], atol=1e-6)

