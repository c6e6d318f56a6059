"""The stopping rule: query an image until its map's standard error is small against the map's range."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from perturbx import registry
from perturbx.attributors.base import Attributor
from perturbx.errors import PerturbxError
from perturbx.samplers.base import Coalitions, Sampler


class Stop(BaseModel):
    """Stop an image once its error measure is below ``tolerance``, checked after every ``check_every`` rows
    from ``min_samples`` on, or at ``max_samples`` rows. ``measure='range'``: ``max(stderr) / (max − min of
    the estimate)`` (Covert & Lee 2021); ``'correlation'`` and ``'rank'``: ``1 − ρ``, ``ρ`` the Pearson or
    Spearman correlation the map is expected to have with its converged value, which track the agreement of
    whole maps rather than their worst entry. The checks fall at fixed row counts, so the map depends on the
    seed and tolerance only, never on the batch size or on the other images of the batch."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tolerance: float = Field(0.01, gt=0.0, lt=1.0, description="target max stderr / range of the estimate")
    check_every: int = Field(64, ge=1, description="rows between two checks")
    min_samples: int = Field(64, ge=1, description="rows before the first check")
    max_samples: int = Field(8000, ge=1, description="rows drawn: the most an image may use")
    measure: Literal["range", "correlation", "rank"] = Field(
        "range",
        description="'range': max stderr / range; 'correlation' / 'rank': 1 − expected Pearson / Spearman "
        "correlation with the limit",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Stop:
        if self.max_samples < self.min_samples:
            raise ValueError(f"max_samples ({self.max_samples}) must be >= min_samples ({self.min_samples})")
        return self

    def checkpoints(self, total: int) -> list[int]:
        """Row counts after which the rule is checked, for a design of ``total`` rows (the last is ``total``)."""
        first = min(total, self.min_samples)
        steps = math.ceil(max(total - first, 0) / self.check_every)
        return [min(first + k * self.check_every, total) for k in range(steps + 1)]

    def met(self, error: float) -> bool:
        """Whether an achieved relative error satisfies the rule (NaN, an unknown error, never does)."""
        return error < self.tolerance


def check_stoppable(stop: Stop, attributor: Attributor, sampler: Sampler, coalitions: Coalitions) -> None:
    """Refuse, before any query, a stopping rule that could never act: an attributor without an error
    estimate, or a design too small to hold two independent draws. Fixed designs are exact: they run whole."""
    if coalitions.fixed:
        return
    if not attributor.anytime:
        able = [name for name in registry.names("attributor") if registry.get("attributor", name).anytime]
        raise PerturbxError(
            f"stop: attributor {attributor.name} has no standard error to stop on; drop stop or use one of "
            f"{', '.join(able)}"
        )
    draws = int(coalitions.group_ids()[-1]) + 1 if len(coalitions) else 0
    if draws < 2:
        raise PerturbxError(
            f"stop.max_samples: sampler {sampler.name} makes {len(coalitions)} rows from "
            f"{stop.max_samples}, fewer than 2 independent draws, so no error can be estimated; "
            "raise max_samples"
        )
