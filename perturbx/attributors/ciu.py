"""Contextual importance and utility (CIU): the output range a feature spans, and where the image lies in it."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attributor
from perturbx.attributors.scores import Estimate, ScoreCollector, per_feature_mean, require_single_rows, single_rows
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation


@register("ciu", paper="Främling 1996/2020 (CIU); Pihlgren & Främling 2024 (coalition form for images)")
class Ciu(Attributor):
    """Per feature j, ``a_j`` = the score with j present and ``r_j`` with j removed. ``single`` form: the
    image itself and its leave-one-out row (sampler ``single``); ``coalition`` form: mean scores of the
    rows keeping / removing j (weighted by ``z_j`` / ``1 − z_j``), i.e. over random contexts. With
    ``Cmin, Cmax = min, max(a_j, r_j)``: importance ``CI = (Cmax − Cmin)/(Ymax − Ymin)``, utility
    ``CU = (a_j − Cmin)/(Cmax − Cmin)`` (0.5 when CI is 0), influence ``CI·(CU − 0.5)``. ``Ymin, Ymax``:
    0 and 1 (``probability``) or the extremes of all observed scores (``observed``). Standard error: 0 for
    the ``single`` form (deterministic rows); none for the ``coalition`` form."""

    form: Literal["single", "coalition"] = Field("coalition", description="leave-one-out or random-context form")
    output: Literal["importance", "utility", "influence"] = Field("importance", description="score per feature")
    y_range: Literal["probability", "observed"] = Field("probability", description="output range Ymin..Ymax")

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        z = coalitions.z
        if self.form == "single":
            require_single_rows(z, kept=False, who="ciu (form single)")
            return
        bad = torch.nonzero((z.sum(0) <= 0) | ((1.0 - z).sum(0) <= 0)).flatten().tolist()
        if bad:
            raise PerturbxError(f"attributor ciu (form coalition): features {bad[:10]} are never both kept and removed "
                                "by the sampler's design; use a random sampler or form='single' with sampler single")

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        z, y_full = coalitions.z.cpu().double(), float(y0)
        m = z.shape[1]
        rows, features = single_rows(z, kept=False)

        def solve(y: torch.Tensor) -> Estimate:
            if self.form == "single":
                present, absent = torch.full((m,), y_full, dtype=torch.float64), per_feature_mean(y, rows, features, m)
            else:
                present, absent = (y @ z) / z.sum(0), (y @ (1 - z)) / (1 - z).sum(0)
            low, high = (0.0, 1.0) if self.y_range == "probability" else (min(float(y.min()), y_full),
                                                                           max(float(y.max()), y_full))
            c_min, c_max = torch.minimum(present, absent), torch.maximum(present, absent)
            importance = (c_max - c_min) / max(high - low, 1e-12)
            spread = c_max - c_min
            neutral = torch.full_like(spread, 0.5)
            utility = torch.where(spread > 0, (present - c_min) / spread.clamp_min(1e-300), neutral)
            scores = {"importance": importance, "utility": utility, "influence": importance * (utility - 0.5)}
            exact = torch.zeros(len(y), m, dtype=torch.float64) if self.form == "single" else None
            return Estimate(scores[self.output], exact)

        return ScoreCollector(segmentation, solve, coalitions)
