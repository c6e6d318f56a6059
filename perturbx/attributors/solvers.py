"""Weighted least-squares solvers shared by the surrogate-model attributors (LIME, KernelSHAP), in float64."""

from __future__ import annotations

import torch


def weighted_ridge(
    z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, alpha: float = 0.0, intercept: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise ``Σ w_n (y_n − b − z_n·β)² + α‖β‖²`` (the intercept ``b`` unpenalised, as scikit-learn's
    Ridge); returns ``(β [M], b)``. Uses the minimum-norm solution when the system is singular."""
    z, y, w = z.double(), y.double(), weights.double()
    if intercept:
        total = w.sum().clamp_min(1e-300)
        z_mean, y_mean = (w @ z) / total, (w @ y) / total
    else:
        z_mean, y_mean = torch.zeros(z.shape[1], dtype=z.dtype), torch.zeros((), dtype=y.dtype)
    zc, yc = z - z_mean, y - y_mean
    root = w.clamp_min(0).sqrt()[:, None]
    design = torch.cat([zc * root, alpha**0.5 * torch.eye(z.shape[1], dtype=z.dtype)])
    target = torch.cat([yc * root[:, 0], torch.zeros(z.shape[1], dtype=y.dtype)])
    beta = torch.linalg.lstsq(design, target[:, None], driver="gelsd").solution[:, 0]
    return beta, y_mean - z_mean @ beta


def ridge_influence(
    z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, beta: torch.Tensor, bias: torch.Tensor,
    alpha: float = 0.0, intercept: bool = True,
) -> torch.Tensor:
    """Per-row influence ``[N,M]`` of :func:`weighted_ridge`'s coefficients: ``H⁻¹·w_n·z̃_n·e_n`` with ``z̃``
    the (weighted-centred) coalitions, ``e`` the residuals and ``H = Σ w z̃ z̃ᵀ + αI`` (the sandwich)."""
    z, y, w = z.double(), y.double(), weights.double().clamp_min(0)
    centred = z - (w @ z) / w.sum().clamp_min(1e-300) if intercept else z
    residual = y - bias - z @ beta
    hessian = centred.T @ (w[:, None] * centred) + alpha * torch.eye(z.shape[1], dtype=z.dtype)
    return (centred * (w * residual)[:, None]) @ torch.linalg.pinv(hessian, hermitian=True)


def efficient_wls(
    z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, total: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise ``Σ w_n (y_n − z_n·φ)²`` subject to ``Σ φ = total`` (KernelSHAP's efficiency constraint,
    with ``y`` already relative to y(∅)): eliminate the last coefficient and solve the rest by WLS.
    Returns ``φ [M]`` and its per-row influence ``[N,M]`` (the sandwich of the reduced fit; the last
    coefficient's influence is minus the sum of the others', as the constraint fixes their total)."""
    z, y, w = z.double(), y.double(), weights.double().clamp_min(0)
    last = z[:, -1:]
    reduced = z[:, :-1] - last
    target = y - last[:, 0] * total
    root = w.sqrt()[:, None]
    head = torch.linalg.lstsq(reduced * root, (target * root[:, 0])[:, None], driver="gelsd").solution[:, 0]
    residual = target - reduced @ head
    hessian = reduced.T @ (w[:, None] * reduced)
    influence = (reduced * (w * residual)[:, None]) @ torch.linalg.pinv(hessian, hermitian=True)
    return torch.cat([head, (total - head.sum())[None]]), torch.cat([influence, -influence.sum(1, keepdim=True)], 1)
