"""ShapleyCAM: Grad-CAM's channel weights corrected by the second-order term of a Shapley expansion."""

from __future__ import annotations

from typing import ClassVar

import torch

from perturbx.registry import register
from perturbx.wrappers.cam_base import CamContext, CamExplainer
from perturbx.wrappers.layers import Layer


@register("shapleycam", paper="Cai 2025, CAMs as Shapley Value-based Explainers (arXiv 2501.06261)")
class ShapleyCAM(CamExplainer):
    """Weights = spatial mean of G − ½ H·A, with H·A the Hessian of the score w.r.t. the activations
    applied to the activations (one extra backward pass). For a score that is piecewise linear in
    the activations (ReLU network, logits) H·A = 0 and this is Grad-CAM; with probabilities it differs."""

    uses_hessian: ClassVar[bool] = True

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        weights = (grads - 0.5 * ctx.hvps[layer.name]).mean(dim=(2, 3), keepdim=True)
        return (weights * acts).sum(dim=1)
