"""Ablation-CAM: channel weights from the drop in score when each channel is set to a constant."""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.wrappers.cam_base import CamContext, CamExplainer
from perturbx.wrappers.hooks import replacing
from perturbx.wrappers.layers import Layer
from perturbx.wrappers.scoring import row_scores


@register("ablationcam", paper="Desai & Ramaswamy 2020, Ablation-CAM (WACV)")
class AblationCAM(CamExplainer):
    """Weight of channel k = (y − y_k) / y, where y_k is the score with channel k of the layer's
    output set to ``ablation_value``; the adapter's batch size of ablated copies per model call."""
    ablation_value: float = Field(0.0, description="value written into the ablated channel")

    uses_gradients: ClassVar[bool] = False
    not_differentiable: ClassVar[str] = "channel weights come from ablated forward passes under inference mode"

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        n_channels = acts.shape[1]
        ablated = torch.empty(acts.shape[:2], device=acts.device)
        channels = torch.empty(0, dtype=torch.long)
        step = ctx.adapter.plan(tuple(ctx.x.shape[1:]))[0]

        def ablate(out: torch.Tensor) -> torch.Tensor:
            out = out.clone()
            view = out.movedim(layer.channel_dim(out), 1)
            view[torch.arange(len(channels), device=out.device), channels.to(out.device)] = self.ablation_value
            return out

        with torch.inference_mode(), replacing(layer.module, ablate):
            for b, image in enumerate(ctx.x):
                for start in range(0, n_channels, step):
                    channels = torch.arange(start, min(start + step, n_channels))
                    batch = image[None].expand(len(channels), *image.shape)
                    ablated[b, channels] = row_scores(ctx.adapter.forward(batch), [ctx.targets.fns[b]] * len(channels))
                    ctx.n_queries += len(channels)
        y = ctx.scores[:, None]
        weights = (y - ablated) / y
        return (weights[:, :, None, None] * acts).sum(dim=1)
