"""Vanilla gradient and input × gradient: one forward and backward per image."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.targets import TargetSpec, resolve_targets
from perturbx.wrappers.gradient_base import GradientExplainer, GradientRun, Reduce
from perturbx.wrappers.scoring import graph_input, row_scores


def gradient_at_input(run: GradientRun, target: TargetSpec) -> torch.Tensor:
    """∂y/∂x for every image, with targets resolved from the same forward pass."""
    with torch.enable_grad():
        inputs = graph_input(run.x, run.create_graph)
        outputs = run.adapter.forward(inputs)
        run.targets = resolve_targets(target, outputs.detach())
        score = row_scores(outputs, run.targets.fns).sum()
        (grads,) = torch.autograd.grad(score, inputs, create_graph=run.create_graph)
    run.n_queries += run.x.shape[0]
    return grads


@register("saliency", paper="Simonyan et al. 2014, Deep Inside Convolutional Networks")
class Saliency(GradientExplainer):
    """The gradient of the target score w.r.t. the input; map = max over channels of ``|∂y/∂x|`` by default."""

    reduce: Reduce = Field("abs_max", description="channel reduction: sum (signed), abs_sum, abs_max or max")

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        return gradient_at_input(run, target)


@register("input_x_gradient", paper="Shrikumar et al. 2016, Not Just a Black Box")
class InputXGradient(GradientExplainer):
    """x ⊙ ∂y/∂x; map = signed channel sum by default."""

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        return run.x * gradient_at_input(run, target)
