"""FullGrad: input-gradient and bias-gradient maps of every conv and batch-norm layer, summed."""

from __future__ import annotations

import torch
from torch import nn

from perturbx.explainer import Explainer
from perturbx.explanation import Explanation
from perturbx.models.adapter import ModelAdapter
from perturbx.registry import register
from perturbx.targets import TargetSpec, resolve_targets
from perturbx.wrappers.cam_base import minmax, resize
from perturbx.wrappers.hooks import recording
from perturbx.wrappers.scoring import row_scores


def bias_layers(model: nn.Module) -> list[nn.Module]:
    """Conv2d and BatchNorm2d layers (exact types) that carry a bias."""
    return [m for m in model.modules() if type(m) in (nn.Conv2d, nn.BatchNorm2d) and m.bias is not None]


def effective_bias(layer: nn.Module) -> torch.Tensor:
    """The bias a layer adds to its output; for batch norm in eval mode, β − μ·γ/√(σ²+ε)."""
    if isinstance(layer, nn.BatchNorm2d):
        return (layer.bias - layer.running_mean * layer.weight / torch.sqrt(layer.running_var + layer.eps)).detach()
    return layer.bias.detach()


def channel_sum_of_scaled(maps: torch.Tensor) -> torch.Tensor:
    """Min-max each ``[B,C,h,w]`` channel map separately, then sum over channels."""
    return minmax(maps.flatten(0, 1)).view_as(maps).sum(dim=1)


@register("fullgrad", paper="Srinivas & Fleuret 2019, Full-Gradient Representation (NeurIPS)")
class FullGrad(Explainer):
    """``|x ⊙ ∂y/∂x|`` plus, for every biased conv/BN layer, ``|b ⊙ ∂y/∂z|`` — each channel min-max scaled,
    summed over channels, resized to the input (bilinear, linear so done after the channel sum), summed
    and min-max normalised. One forward and backward per image."""

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        layers = bias_layers(adapter.model)
        inputs = x.to(adapter.device).detach().requires_grad_(True)
        with recording(layers) as records, torch.enable_grad():
            outputs = adapter.forward(inputs)
            targets = resolve_targets(target, outputs.detach())
            scores = row_scores(outputs, targets.fns)
            used = [(layer, record[-1]) for layer, record in zip(layers, records) if record]
            grads = torch.autograd.grad(scores.sum(), [inputs] + [a for _, a in used], allow_unused=True)
        size = tuple(x.shape[-2:])
        total = channel_sum_of_scaled((grads[0] * inputs).abs().detach())
        for (layer, _), grad in zip(used, grads[1:]):
            if grad is None:
                continue
            bias = effective_bias(layer).to(grad.dtype)[None, :, None, None]
            total = total + resize(channel_sum_of_scaled((bias * grad).abs()), size)
        return Explanation(
            maps=minmax(total)[:, None].cpu(),
            targets=targets.classes,
            n_queries=x.shape[0],
            method=self.name,
            meta={"layers": len(used)},
        )
