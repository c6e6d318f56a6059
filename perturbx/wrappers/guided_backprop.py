"""Guided backpropagation: input gradients with negative gradients stopped at every ReLU."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch
from pydantic import Field
from torch import nn

from perturbx.registry import register
from perturbx.targets import TargetSpec
from perturbx.wrappers.gradient_base import GradientExplainer, GradientRun, Reduce
from perturbx.wrappers.hooks import hooked
from perturbx.wrappers.saliency import gradient_at_input

GUIDED = (nn.ReLU, nn.ReLU6)


class _PositiveGrad(torch.autograd.Function):
    """Identity forward; the backward passes only positive gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp(min=0)


@contextmanager
def guided(model: nn.Module) -> Iterator[int]:
    """Within the block, every ReLU/ReLU6 module also zeroes negative incoming gradients."""
    with ExitStack() as stack:
        modules = [m for m in model.modules() if isinstance(m, GUIDED)]
        for module in modules:
            stack.enter_context(hooked(module, lambda m, i, out: _PositiveGrad.apply(out)))
        yield len(modules)


@register("guided_backprop", paper="Springenberg et al. 2015, Striving for Simplicity (ICLR workshop)")
class GuidedBackprop(GradientExplainer):
    """Only ReLU/ReLU6 *modules* are guided (functional ``F.relu`` calls are not seen by hooks)."""

    reduce: Reduce = Field("abs_max", description="channel reduction: sum (signed), abs_sum, abs_max or max")

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        with guided(run.adapter.model):
            return gradient_at_input(run, target)
