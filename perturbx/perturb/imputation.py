"""ROAD's noisy linear imputation: removed pixels solved jointly as the weighted mean of their neighbours."""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

# (row offset, column offset, weight): direct neighbours 1/6, diagonal ones 1/12 (Rong et al. 2022)
NEIGHBOURS = [(dy, dx, 1 / 6 if dy == 0 or dx == 0 else 1 / 12)
              for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def noisy_linear_impute(
    image: torch.Tensor, removed: torch.Tensor, noise_std: float = 0.01, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Fill the ``removed [H,W]`` pixels of ``image [C,H,W]``; kept pixels are returned unchanged.

    Each removed pixel equals the weighted mean of its 8 neighbours (1/6 direct, 1/12 diagonal, the
    weights renormalised at the image border), all removed pixels solved together as one sparse
    linear system, plus Gaussian noise of ``noise_std`` drawn from ``generator`` (no clamping, as in
    ROAD). If every pixel is removed there is nothing to impute from: the image's mean colour is used.
    """
    c, h, w = image.shape
    out = image.detach().to("cpu", torch.float64).clone()
    mask = removed.detach().cpu().bool()
    n = int(mask.sum())
    if n == 0:
        return image.clone()
    if n == h * w:
        values = out.flatten(1).mean(1, keepdim=True).expand(c, n).numpy()
    else:
        values = _solve(out.numpy(), mask.numpy())
    noise = torch.randn(c, n, generator=generator, dtype=torch.float64) * noise_std if noise_std > 0 else 0.0
    out[:, mask] = torch.as_tensor(values) + noise
    return out.to(image.device, image.dtype)


def _solve(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The values ``[C,n]`` of the ``n`` masked pixels (row-major order) under the neighbour equations."""
    h, w = mask.shape
    index = np.full((h, w), -1, dtype=np.int64)
    ys, xs = np.nonzero(mask)
    n = ys.size
    index[ys, xs] = np.arange(n)
    total = np.zeros(n)
    rhs = np.zeros((image.shape[0], n))
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.ones(n)]
    neighbours = []
    for dy, dx, weight in NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        total += weight * inside
        neighbours.append((ny, nx, weight, inside))
    for ny, nx, weight, inside in neighbours:
        source = np.nonzero(inside)[0]
        other = index[ny[source], nx[source]]
        unknown = other >= 0
        rows.append(source[unknown])
        cols.append(other[unknown])
        vals.append(-weight / total[source[unknown]])
        known = source[~unknown]
        rhs[:, known] += weight / total[known] * image[:, ny[known], nx[known]]
    matrix = scipy.sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    # the sparsity pattern is symmetric, so a minimum-degree ordering on A+Aᵀ fills in least
    solution = scipy.sparse.linalg.spsolve(matrix, rhs.T, permc_spec="MMD_AT_PLUS_A")
    return np.atleast_2d(solution.T).reshape(image.shape[0], n)
