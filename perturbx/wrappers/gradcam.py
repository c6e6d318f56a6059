"""The gradient-weighted CAM family: each method is one formula on activations A and gradients G."""

from __future__ import annotations

import torch

from perturbx.registry import register
from perturbx.wrappers.cam_base import CamContext, CamExplainer
from perturbx.wrappers.layers import Layer


@register("gradcam", paper="Selvaraju et al. 2017, Grad-CAM (ICCV)")
class GradCAM(CamExplainer):
    """Channel weights = spatial mean of the gradient; map = Σ_c w_c A_c. Several layers are averaged."""

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        return (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(dim=1)


@register("gradcam++", paper="Chattopadhyay et al. 2018, Grad-CAM++ (WACV)")
class GradCAMPlusPlus(CamExplainer):
    """Weights = Σ_ij α_ij ReLU(G_ij) with α = G² / (2G² + Σ_ij A · G³) (the closed form of eq. 19)."""

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        g2 = grads.pow(2)
        total = acts.sum(dim=(2, 3), keepdim=True)
        alpha = g2 / (2 * g2 + total * g2 * grads + 1e-6)
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        weights = (grads.clamp(min=0) * alpha).sum(dim=(2, 3), keepdim=True)
        return (weights * acts).sum(dim=1)


@register("xgradcam", paper="Fu et al. 2020, Axiom-based Grad-CAM (BMVC)")
class XGradCAM(CamExplainer):
    """Weights = Σ_ij G_ij A_ij / Σ_ij A_ij."""

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        weights = (grads * acts / (acts.sum(dim=(2, 3), keepdim=True) + 1e-7)).sum(dim=(2, 3), keepdim=True)
        return (weights * acts).sum(dim=1)


@register("layercam", paper="Jiang et al. 2021, LayerCAM (IEEE TIP)")
class LayerCAM(CamExplainer):
    """Map = Σ_c ReLU(G_c) ⊙ A_c: element-wise positive gradients, good at shallow layers."""

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        return (grads.clamp(min=0) * acts).sum(dim=1)


@register("hirescam", paper="Draelos & Carin 2020, HiResCAM")
class HiResCAM(CamExplainer):
    """Map = Σ_c G_c ⊙ A_c: element-wise gradients, faithful to the score for GAP-linear heads."""

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        return (grads * acts).sum(dim=1)


@register("gradcam_elementwise", paper="Grad-CAM with element-wise ReLU(G ⊙ A) (pytorch-grad-cam variant)")
class GradCAMElementWise(CamExplainer):
    """Map = Σ_c ReLU(G_c ⊙ A_c)."""

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        return (grads * acts).clamp(min=0).sum(dim=1)
