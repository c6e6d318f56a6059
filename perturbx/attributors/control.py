"""A regression control variate for mask-averaging estimators (RISE): the score's linear fit on how much of
each region the keep-mask shows, whose expectation under the design is known exactly.

Each row's score ``y_n`` is replaced by ``y_n − b·(g_n − ḡ)`` and the exact ``b·E[(g − ḡ)·m]`` is added back,
where ``g_n`` is the mean keep-mask over each region of the segmentation's labels. Every row's term keeps the
expectation of the plain one, so the estimator targets the same map; the part of the score that is linear
in the regions' coverage no longer adds noise. ``b`` is refitted only at fixed rows (the first group
boundary at or after 64, 128, 256, ... rows) from the rows before them, so each term is a martingale
difference: the estimate is exactly unbiased, its standard error stays the plain one of independent draws,
and nothing depends on how the rows were chunked.
"""

from __future__ import annotations

import torch

from perturbx.errors import PerturbxError
from perturbx.segmenters.segmentation import Segmentation, ShiftedGrid, upsampling_matrix

FIRST_FIT = 64  # rows before the first fit; refits follow at each doubling
PRIOR_ROWS = 32.0  # ridge: shrink b as if this many rows of average spread backed a zero slope
MAX_ENTRIES = 2**27  # regions × pixels held in float64 (1 GiB)


def check_size(segmentation: Segmentation) -> None:
    """Refuse, before any query, a segmentation whose regions × pixels moments would not fit in memory."""
    h, w = segmentation.shape
    regions = int(torch.unique(segmentation.labels).numel())
    if regions * h * w > MAX_ENTRIES:
        raise PerturbxError(
            f"attributor rise: control='linear' holds regions × pixels = {regions}×{h * w} numbers, more than "
            f"{MAX_ENTRIES}; use fewer segments or a smaller image"
        )


def refit_rows(ids: torch.Tensor) -> list[int]:
    """Rows at which ``b`` is refitted: the first start of a group at or after ``64·2^j`` rows."""
    starts = torch.nonzero(torch.diff(ids, prepend=ids[:1] - 1)).flatten().tolist()
    out, wanted = [], FIRST_FIT
    for row in starts:
        if row >= wanted:
            out.append(row)
            while wanted <= row:
                wanted *= 2
    return out


class RegionControl:
    """Exact design moments of the regions' coverage ``g`` (``[K]`` per row) and the streamed fit of the
    scores on it, for keep-masks linear in coalitions whose rows are independent Bernoulli(``p``) features."""

    def __init__(self, segmentation: Segmentation, p: float, device: torch.device) -> None:
        labels = torch.unique(segmentation.labels.cpu(), return_inverse=True)[1].flatten()
        regions = int(labels.max()) + 1
        area = torch.nn.functional.one_hot(labels, regions).T.double()  # [K,HW]
        self.average = area / area.sum(1, keepdim=True)  # A: the mean over each region
        moments = _shifted_moments if isinstance(segmentation, ShiftedGrid) else _fixed_moments
        mean_weights, mean, cross = moments(segmentation, p, self.average)
        self.mean = mean  # μ = E[m], [HW]
        self.region_mean = self.average @ mean  # ḡ = E[g]
        self.pixel_cov = cross - self.region_mean[:, None] * mean[None]  # E[(g − ḡ)·m(x)], [K,HW]
        self.feature_cov = p * (1 - p) * self.average @ mean_weights.T  # E[(g − ḡ)·z_c], [K,M]
        self.average, self.region_mean = self.average.to(device), self.region_mean.to(device)
        self.pixel_cov, self.feature_cov = self.pixel_cov.to(device), self.feature_cov.to(device)
        self.rows = 0
        self.sg = torch.zeros(regions, dtype=torch.float64, device=device)
        self.sgg = torch.zeros(regions, regions, dtype=torch.float64, device=device)
        self.sy, self.sgy = 0.0, torch.zeros(regions, dtype=torch.float64, device=device)
        self.slope = torch.zeros(regions, dtype=torch.float64, device=device)

    def regressors(self, keep: torch.Tensor) -> torch.Tensor:
        """Centred coverage ``g − ḡ`` ``[n,K]`` of keep-masks ``[n,HW]``."""
        return keep @ self.average.T - self.region_mean

    def fold(self, g: torch.Tensor, y: torch.Tensor) -> None:
        """Add rows (centred regressors ``g``, scores ``y``) to the fit; ``slope`` changes only at :meth:`refit`."""
        self.rows += len(y)
        self.sg += g.sum(0)
        self.sgg += g.T @ g
        self.sy += float(y.sum())
        self.sgy += g.T @ y

    def refit(self) -> None:
        """Ridge least squares with an intercept on every row folded so far."""
        gm = self.sg / self.rows
        spread = self.sgg - self.rows * torch.outer(gm, gm)
        ridge = PRIOR_ROWS * float(spread.diagonal().mean()) / self.rows + 1e-12  # > 0 even if g never varied
        system = spread + ridge * torch.eye(len(gm), dtype=spread.dtype, device=spread.device)
        self.slope = torch.linalg.solve(system, self.sgy - gm * self.sy)


def _fixed_moments(
    segmentation: Segmentation, p: float, average: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep-masks ``m = Wᵀz`` with one ``W [M,HW]`` for every row: ``W``, ``E[m]`` and ``E[g·mᵀ]``, using
    ``E[z zᵀ] = p²·11ᵀ + p(1−p)·I``."""
    weights = segmentation.weights().cpu().double()
    total = weights.sum(0)
    seen = average @ weights.T  # [K,M]: how much of each region each feature covers
    cross = p * p * seen.sum(1)[:, None] * total[None] + p * (1 - p) * seen @ weights
    return weights, p * total, cross


def _shifted_moments(
    grid: ShiftedGrid, p: float, average: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The same for the randomly shifted grid, averaging over its uniform offsets: a cell's weight at a pixel
    is a row factor times a column factor, each depending on one offset, so every moment is separable."""
    h, w = grid.shape
    factors = []
    for size, cell in ((h, grid.cell[0]), (w, grid.cell[1])):
        table = upsampling_matrix(grid.cells, (grid.cells + 1) * cell, grid.mode).double()
        weights = torch.stack([table[offset + torch.arange(size)] for offset in range(cell)])  # [O,size,cells]
        sums = weights.sum(2)  # [O,size]
        factors.append((
            weights.mean(0),  # E_o[w_i(y)]
            sums.mean(0),  # E_o[Σ_i w_i(y)]
            sums.T @ sums / cell,  # E_o[Σ_i w_i(y') · Σ_i w_i(y)]
            torch.einsum("ohi,oki->hk", weights, weights) / cell,  # E_o[Σ_i w_i(y')·w_i(y)]
        ))
    (rows, row_sum, row_all, row_same), (cols, col_sum, col_all, col_same) = factors
    mean_weights = torch.einsum("hi,wj->ijhw", rows, cols).reshape(grid.cells**2, h * w)
    regions = average.view(-1, h, w)
    cross = p * p * torch.einsum("nhw,hk,wv->nkv", regions, row_all, col_all) + p * (1 - p) * torch.einsum(
        "nhw,hk,wv->nkv", regions, row_same, col_same
    )
    return mean_weights, p * torch.outer(row_sum, col_sum).flatten(), cross.reshape(len(regions), h * w)
