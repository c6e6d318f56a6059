"""Sobol sensitivity indices of each feature's mask amplitude, from a Saltelli A/B/AB_i design."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


def saltelli_blocks(z: torch.Tensor) -> int | None:
    """Number of design points ``n`` if ``z`` is ``n`` blocks of M+2 rows ``[a; b; ab_1; …; ab_M]``
    (``ab_i`` = ``a`` with column i from ``b``), else None."""
    rows, m = z.shape
    if rows % (m + 2) or rows // (m + 2) < 2:
        return None
    n = rows // (m + 2)
    blocks = z.view(n, m + 2, m)
    a, b, ab = blocks[:, :1], blocks[:, 1:2], blocks[:, 2:]
    eye = torch.eye(m, dtype=torch.bool)[None]
    return n if torch.equal(ab, torch.where(eye, b, a)) else None


@register("sobol", paper="Sobol 2001; Saltelli et al. 2010; Fel et al., NeurIPS 2021 (Sobol attribution)")
class SobolIndices(Attributor):
    """``total``: Jansen's total-order index ``E[(f(A) − f(AB_i))²] / (2·Var f)``; ``first``: Saltelli's
    first-order index ``E[f(B)(f(AB_i) − f(A))] / Var f``, with ``Var f`` over the A and B rows. Needs the
    ``sobol`` sampler's design. Standard error: the delta method for this ratio of means over the design
    points (exact in the limit for random points; conservative for scrambled Sobol points)."""

    anytime: ClassVar[bool] = True

    order: Literal["total", "first"] = Field("total", description="total-order or first-order indices")

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        if saltelli_blocks(coalitions.z) is None:
            raise PerturbxError(
                "attributor sobol: needs a Saltelli design, blocks [a; b; ab_1..ab_M] per design "
                "point with at least 2 points; use the sobol sampler"
            )

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        m = coalitions.z.shape[1]

        def solve(y: torch.Tensor) -> Estimate:
            n = len(y) // (m + 2)  # complete design points only
            if n < 2:
                return Estimate(torch.zeros(m, dtype=torch.float64))
            blocks = y[: n * (m + 2)].view(n, m + 2)
            fa, fb, fab = blocks[:, 0], blocks[:, 1], blocks[:, 2:]
            mean = blocks[:, :2].mean()
            v = ((fa - mean) ** 2 + (fb - mean) ** 2) / 2
            var = v.mean()
            if var <= 0:
                return Estimate(torch.zeros(m, dtype=torch.float64), torch.zeros(len(y), m, dtype=torch.float64))
            u = (fa[:, None] - fab) ** 2 / 2 if self.order == "total" else fb[:, None] * (fab - fa[:, None])
            numerator = u.mean(0)
            influence = torch.zeros(len(y), m, dtype=torch.float64)
            influence[torch.arange(n) * (m + 2)] = ((u - numerator) / var - numerator * (v - var)[:, None] / var**2) / n
            return Estimate(numerator / var, influence)

        return ScoreCollector(segmentation, solve, coalitions)
