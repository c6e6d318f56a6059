"""KPCA-CAM: Eigen-CAM with kernel PCA, the activations' first nonlinear principal component."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from scipy.sparse.linalg import eigsh

from perturbx.registry import register
from perturbx.wrappers.cam_base import CamContext, CamExplainer
from perturbx.wrappers.layers import Layer

Kernel = Literal["sigmoid", "rbf", "poly", "linear", "cosine"]


def kernel_matrix(rows: torch.Tensor, kernel: Kernel, gamma: float, degree: int, coef0: float) -> torch.Tensor:
    """The kernel between every pair of rows ``[n,d]`` (scikit-learn's definitions)."""
    if kernel == "rbf":
        return torch.exp(-gamma * torch.cdist(rows, rows).pow(2))
    if kernel == "cosine":
        unit = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-300)
        return unit @ unit.T
    dots = rows @ rows.T
    if kernel == "linear":
        return dots
    if kernel == "poly":
        return (gamma * dots + coef0).pow(degree)
    return torch.tanh(gamma * dots + coef0)


def kernel_projection(
    maps: torch.Tensor, kernel: Kernel, gamma: float | None, degree: int, coef0: float
) -> torch.Tensor:
    """Per image, the first kernel principal component of the centred ``[h·w, C]`` features: the top
    eigenvector of the centred kernel matrix times √eigenvalue, signed so its largest entry is positive."""
    b, c, h, w = maps.shape
    out = []
    for image in maps.double().nan_to_num(0.0):
        rows = image.reshape(c, h * w).T
        rows = rows - rows.mean(dim=0, keepdim=True)
        k = kernel_matrix(rows, kernel, 1.0 / c if gamma is None else gamma, degree, coef0)
        k = k - k.mean(dim=0, keepdim=True) - k.mean(dim=1, keepdim=True) + k.mean()
        value, top = top_eigenpair(k)
        value, top = value.to(k.device), top.to(k.device)
        top = top * torch.sign(top[top.abs().argmax()])
        out.append(top * value.clamp_min(0).sqrt())
    return torch.stack(out).reshape(b, h, w).to(maps.device, maps.dtype)


def top_eigenpair(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The largest eigenvalue of a symmetric matrix and its unit eigenvector: dense below 200 rows,
    else Lanczos (ARPACK, deterministic start), which is much faster for ``[h·w, h·w]`` kernels."""
    if matrix.shape[0] <= 200:
        values, vectors = torch.linalg.eigh(matrix)
        return values[-1], vectors[:, -1]
    dense = matrix.detach().cpu().numpy()
    start = np.ones(dense.shape[0]) / np.sqrt(dense.shape[0])
    value, vector = eigsh(dense, k=1, which="LA", v0=start, tol=0)
    return torch.tensor(value[0], dtype=matrix.dtype), torch.from_numpy(vector[:, 0]).to(matrix.dtype)


@register(
    "kpcacam",
    paper="Karmani et al. 2024, KPCA-CAM: Visual Explainability of Deep Computer Vision Models using Kernel PCA (MMSP)",
)
class KPCACAM(CamExplainer):
    """Class-agnostic, like Eigen-CAM, with the principal component taken in a kernel feature space
    (default: sigmoid kernel, γ = 1/channels, as pytorch-grad-cam). One ``[h·w, h·w]`` kernel matrix
    per image, in float64, and its top eigenvector: the centred sigmoid kernel is about 1e-3 of its
    entries (≈ tanh(1)), so float32, which pytorch-grad-cam uses, keeps only four digits of it."""

    kernel: Kernel = Field("sigmoid", description="kernel: sigmoid, rbf, poly, linear or cosine")
    gamma: float | None = Field(None, gt=0, description="kernel scale; None: 1 / channels")
    degree: int = Field(3, ge=1, description="degree of the poly kernel")
    coef0: float = Field(1.0, description="offset of the sigmoid and poly kernels")

    uses_gradients: ClassVar[bool] = False
    not_differentiable: ClassVar[str] = "eigenvector gradients are undefined when eigenvalues coincide"

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        return kernel_projection(acts, self.kernel, self.gamma, self.degree, self.coef0)
