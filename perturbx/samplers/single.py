"""One feature at a time: leave-one-out (occlusion) or keep-one-only (PAMI), optionally with all/none rows."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("single", paper="Zeiler & Fergus 2014 (occlusion); Shi et al. 2024 (PAMI, keep one segment)")
class Single(Sampler):
    """A fixed design of M rows: row j removes feature j only, or with ``inverse`` keeps feature j only.
    ``include_all`` / ``include_none`` put an all-kept / all-removed row first. ``n_samples`` is ignored."""

    inverse: bool = Field(False, description="keep one feature per row instead of removing one")
    include_all: bool = Field(False, description="add a row that keeps every feature")
    include_none: bool = Field(False, description="add a row that removes every feature")

    def has_empty_row(self) -> bool:
        return self.include_none

    def size(self, n_samples: int, n_features: int) -> int:
        return n_features + int(self.include_all) + int(self.include_none)

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        eye = torch.eye(n_features)
        rows = [torch.ones(1, n_features)] if self.include_all else []
        rows += [torch.zeros(1, n_features)] if self.include_none else []
        rows.append(eye if self.inverse else 1.0 - eye)
        return Coalitions(torch.cat(rows), fixed=True)
