"""Score-CAM: channel weights from the model's score on the image masked by each upsampled channel."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from perturbx.registry import register
from perturbx.wrappers.cam_base import CamContext, CamExplainer
from perturbx.wrappers.layers import Layer
from perturbx.wrappers.scoring import row_scores


@register("scorecam", paper="Wang et al. 2020, Score-CAM (CVPR workshops)")
class ScoreCAM(CamExplainer):
    """Each channel, upsampled (bilinear, corners aligned) and min-max scaled, masks the image; the
    softmax over channels of the target scores weighs the channels. Channels are processed the
    adapter's batch size at a time per image, so only that many masked images exist at once."""

    uses_gradients: ClassVar[bool] = False
    not_differentiable: ClassVar[str] = "channel weights come from masked forward passes under inference mode"

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        size = tuple(ctx.x.shape[-2:])
        weights = torch.empty(acts.shape[:2], device=acts.device)
        step = ctx.adapter.plan(tuple(ctx.x.shape[1:]))[0]
        with torch.inference_mode():
            for b, image in enumerate(ctx.x):
                fn = ctx.targets.fns[b]
                for start in range(0, acts.shape[1], step):
                    chunk = acts[b, start : start + step][None]
                    masks = F.interpolate(chunk, size=size, mode="bilinear", align_corners=True)[0]
                    flat = masks.flatten(1)
                    lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
                    masks = (masks - lo[:, None, None]) / (hi - lo + 1e-8)[:, None, None]
                    scores = row_scores(ctx.adapter.forward(image[None] * masks[:, None]), [fn] * len(masks))
                    weights[b, start : start + len(masks)] = scores
                    ctx.n_queries += len(masks)
        weights = weights.softmax(dim=1)
        return (weights[:, :, None, None] * acts).sum(dim=1)
