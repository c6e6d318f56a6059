"""A logistic-additive surrogate game ``g(S) = c₀ + c₁·σ(b + Σ_{j∈S} β_j)``: its fit to scored coalitions
and its exact Shapley values, which KernelSHAP's regression adjustment subtracts and adds back."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

_OMEGA_MAX = 12.0  # 1/sinh(πω) < 1e-16 beyond: the Fourier integral's tail is negligible


@dataclass
class LogisticGame:
    """``g(S) = offset + scale·σ(bias + Σ_{j∈S} coefs_j)`` on coalitions ``z [N,M]`` (1 = kept)."""

    offset: float
    scale: float
    bias: float
    coefs: torch.Tensor

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.offset + self.scale * torch.sigmoid(self.bias + z.double() @ self.coefs)

    def shapley(self) -> torch.Tensor:
        """The game's exact Shapley values ``[M]`` (to about 1e-12)."""
        return self.scale * logistic_shapley(self.bias, self.coefs)


def logistic_shapley(bias: float, coefs: torch.Tensor) -> torch.Tensor:
    """Exact Shapley values of ``S ↦ σ(bias + Σ_{j∈S} coefs_j)`` without enumerating coalitions.

    Owen's multilinear extension gives ``φ_i = ∫₀¹ E[σ(a + β_i + X) − σ(a + X)] dq`` with ``X = Σ_{j≠i} ξ_j β_j``,
    ``ξ_j ~ Bernoulli(q)``; the integrand is a polynomial of degree M−1 in q, so Gauss–Legendre with ⌈M/2⌉+1
    nodes is exact. Each expectation is a Fourier integral, ``σ(t) − ½ = ∫₀^∞ sin(ωt)/sinh(πω) dω``, and the
    characteristic function of ``X`` is the product ``Π_{j≠i} (1 − q + q·e^{iωβ_j})``."""
    beta = coefs.double().cpu()
    m = len(beta)
    if m == 0:
        return beta.clone()
    span = abs(bias) + float(beta.abs().sum())  # the fastest oscillation of sin(ωt), in radians per unit ω
    omega, omega_weight = _composite_legendre(_OMEGA_MAX, panels=int(min(max(16, span), 4096)))
    omega_weight = omega_weight / torch.sinh(math.pi * omega)
    q_nodes, q_weights = _composite_legendre(1.0, panels=1, order=m // 2 + 1)
    phi = torch.zeros(m, dtype=torch.float64)
    for chunk in range(0, len(omega), 2048):  # bounded memory: [2048, M] complex arrays
        w, weight = omega[chunk : chunk + 2048], omega_weight[chunk : chunk + 2048]
        phase = torch.exp(1j * w[:, None] * beta[None, :])  # [Ω,M]
        gain = torch.exp(1j * w * bias)[:, None] * (phase - 1)  # e^{iωa}(e^{iωβ_i} − 1): the marginal's transform
        ones = torch.ones(len(w), 1, dtype=phase.dtype)
        for q, qw in zip(q_nodes.tolist(), q_weights.tolist(), strict=True):
            factors = (1 - q) + q * phase
            before = torch.cat([ones, torch.cumprod(factors[:, :-1], 1)], 1)
            after = torch.cat([torch.cumprod(factors.flip(1)[:, :-1], 1).flip(1), ones], 1)
            others = before * after  # Π_{j≠i}: the characteristic function of X without feature i
            phi += qw * ((gain * others).imag * weight[:, None]).sum(0)
    return phi


def _composite_legendre(end: float, panels: int, order: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of ``order``-point Gauss–Legendre on each of ``panels`` equal parts of [0, end]."""
    nodes, weights = np.polynomial.legendre.leggauss(order)
    width = end / panels
    left = np.arange(panels)[:, None] * width
    points = left + (nodes[None, :] + 1) * width / 2
    return torch.from_numpy(points.ravel()), torch.from_numpy(np.tile(weights * width / 2, panels))


def fit_logistic(
    z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, y_empty: float, y_full: float
) -> LogisticGame | None:
    """Weighted least-squares fit of a :class:`LogisticGame` to scores ``y [N]`` of coalitions ``z [N,M]``
    (and to the all-removed and all-kept scores). Deterministic: it starts from the linear fit in logit
    space and refines every parameter by Levenberg–Marquardt. ``None`` when the scores are constant or
    non-finite."""
    z, y, w = z.double(), y.double(), weights.double().clamp_min(0)
    m = z.shape[1]
    z = torch.cat([z, torch.zeros(1, m, dtype=z.dtype), torch.ones(1, m, dtype=z.dtype)])
    y = torch.cat([y, torch.tensor([y_empty, y_full], dtype=y.dtype)])
    w = torch.cat([w, w.max().reshape(1).expand(2) if len(w) else torch.ones(2, dtype=w.dtype)])
    w = w / w.sum().clamp_min(1e-300)
    low, high = float(y.min()), float(y.max())
    if not math.isfinite(low) or not math.isfinite(high) or high - low <= 1e-6 * max(1.0, abs(high)):  # float32 scores
        return None
    pad = 0.05 * (high - low)
    offset, scale = low - pad, high - low + 2 * pad
    if low >= 0.0 and high <= 1.0:  # probabilities: σ's own range
        offset, scale = 0.0, 1.0
    share = ((y - offset) / scale).clamp(0.01, 0.99)
    root = w.sqrt()[:, None]
    design = torch.cat([torch.ones(len(z), 1, dtype=z.dtype), z], 1)
    start = torch.linalg.lstsq(design * root, (torch.log(share / (1 - share)) * root[:, 0])[:, None],
                               driver="gelsd").solution[:, 0]
    theta = torch.cat([torch.tensor([offset, scale], dtype=z.dtype), start])
    return _levenberg_marquardt(theta, design, y, w)


def _levenberg_marquardt(
    theta: torch.Tensor, design: torch.Tensor, y: torch.Tensor, w: torch.Tensor, steps: int = 30
) -> LogisticGame | None:
    """Minimise ``Σ w (y − θ₀ − θ₁·σ(design·θ₂:))²`` from ``theta`` by damped Gauss–Newton steps."""

    def residual(t: torch.Tensor) -> torch.Tensor:
        return y - t[0] - t[1] * torch.sigmoid(design @ t[2:])

    current = residual(theta)
    loss, damping = float((w * current**2).sum()), 1e-3
    for _ in range(steps):
        s = torch.sigmoid(design @ theta[2:])
        jacobian = torch.cat([torch.ones_like(s)[:, None], s[:, None], (theta[1] * s * (1 - s))[:, None] * design], 1)
        normal = jacobian.T @ (w[:, None] * jacobian)
        gradient = jacobian.T @ (w * current)
        scale = normal.diagonal().clamp_min(1e-300)
        while damping < 1e8:
            step = torch.linalg.solve(normal + damping * torch.diag(scale), gradient)
            trial = theta + step
            trial_residual = residual(trial)
            trial_loss = float((w * trial_residual**2).sum())
            if trial_loss <= loss:
                break
            damping *= 10
        else:
            break
        improved = loss - trial_loss
        theta, current, loss, damping = trial, trial_residual, trial_loss, max(damping / 10, 1e-9)
        if improved <= 1e-10 * max(loss, 1e-300):
            break
    if not bool(torch.isfinite(theta).all()):
        return None
    return LogisticGame(float(theta[0]), float(theta[1]), float(theta[2]), theta[3:].clone())
