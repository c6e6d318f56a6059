"""Sobol sensitivity indices of each feature's mask amplitude, from a Saltelli A/B/AB_i design."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import ScoreCollector
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


def saltelli_blocks(z: torch.Tensor) -> int | None:
    """Rows per block ``n`` if ``z`` is ``[A; B; AB_1; …; AB_M]`` (AB_i = A with column i from B), else None."""
    rows, m = z.shape
    if rows % (m + 2) or rows // (m + 2) < 2:
        return None
    n = rows // (m + 2)
    a, b, ab = z[:n], z[n : 2 * n], z[2 * n :].view(m, n, m)
    eye = torch.eye(m, dtype=torch.bool)[:, None, :]
    expected = torch.where(eye, b[None], a[None])
    return n if torch.equal(ab, expected) else None


@register("sobol", paper="Sobol 2001; Saltelli et al. 2010; Fel et al., NeurIPS 2021 (Sobol attribution)")
class SobolIndices(Attributor):
    """``total``: Jansen's total-order index ``E[(f(A) − f(AB_i))²] / (2·Var f)``; ``first``: Saltelli's
    first-order index ``E[f(B)(f(AB_i) − f(A))] / Var f``, with ``Var f`` over the A and B rows. Needs the
    ``sobol`` sampler's design."""

    order: Literal["total", "first"] = Field("total", description="total-order or first-order indices")

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        if saltelli_blocks(coalitions.z) is None:
            raise PerturbxError("attributor sobol: needs a Saltelli design [A; B; AB_1..AB_M] with at least 2 rows "
                                "per block; use the sobol sampler")

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        n, m = saltelli_blocks(coalitions.z.cpu()), coalitions.z.shape[1]

        def solve(y: torch.Tensor) -> torch.Tensor:
            fa, fb, fab = y[:n], y[n : 2 * n], y[2 * n :].view(m, n)
            var = torch.cat([fa, fb]).var(unbiased=False)
            if var <= 0:
                return torch.zeros(m, dtype=torch.float64)
            if self.order == "total":
                return ((fa - fab) ** 2).mean(1) / (2 * var)
            return (fb * (fab - fa)).mean(1) / var

        return ScoreCollector(segmentation, solve)
