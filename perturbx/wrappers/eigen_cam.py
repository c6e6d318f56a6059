"""Eigen-CAM and Eigen-Grad-CAM: the first principal component of (gradient-weighted) activations."""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.wrappers.cam_base import CamContext, CamExplainer
from perturbx.wrappers.layers import Layer


def principal_projection(maps: torch.Tensor, sign_correction: bool) -> torch.Tensor:
    """Per image, project the centred ``[h·w, C]`` feature matrix on its first right-singular vector.

    The sign of a singular vector is arbitrary; ``sign_correction`` flips each map so that its
    largest-magnitude value is positive (Seg-Eigen-CAM, eq. 13).
    """
    b, c, h, w = maps.shape
    rows = maps.reshape(b, c, h * w).transpose(1, 2).nan_to_num(0.0)
    rows = rows - rows.mean(dim=1, keepdim=True)
    _, _, vh = torch.linalg.svd(rows, full_matrices=False)
    projection = (rows @ vh[:, 0, :, None])[..., 0]
    if sign_correction:
        flip = projection.amin(dim=1).abs() > projection.amax(dim=1).abs()
        projection = torch.where(flip[:, None], -projection, projection)
    return projection.reshape(b, h, w)


@register("eigencam", paper="Muhammad & Yeasin 2020, Eigen-CAM (IJCNN)")
class EigenCAM(CamExplainer):
    """Class-agnostic: the activations' first principal component (no gradients, no extra queries)."""

    sign_correction: bool = Field(True, description="flip each map so its largest-magnitude value is positive")

    uses_gradients: ClassVar[bool] = False
    not_differentiable: ClassVar[str] = "singular-vector gradients are undefined when singular values coincide"

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        return principal_projection(acts, self.sign_correction)


@register("eigengradcam", paper="Eigen-CAM on gradient ⊙ activation (pytorch-grad-cam variant)")
class EigenGradCAM(CamExplainer):
    """Class-specific: the first principal component of G ⊙ A."""

    sign_correction: bool = Field(True, description="flip each map so its largest-magnitude value is positive")

    not_differentiable: ClassVar[str] = "singular-vector gradients are undefined when singular values coincide"

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        return principal_projection(grads * acts, self.sign_correction)
