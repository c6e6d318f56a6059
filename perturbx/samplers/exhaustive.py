"""Every one of the 2^M coalitions, for exact Shapley values on few features."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions, Sampler


@register("exhaustive", paper="Shapley 1953; Lundberg & Lee 2017 (exact KernelSHAP)")
class Exhaustive(Sampler):
    """All 2^M coalitions in binary counting order (row 0 removes everything, the last keeps everything).
    ``n_samples`` is ignored; more than ``max_features`` features is an error."""

    max_features: int = Field(16, ge=1, le=24, description="refuse designs with more features than this")

    def has_empty_row(self) -> bool:
        return True

    def size(self, n_samples: int, n_features: int) -> int:
        return 2**n_features

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        if n_features > self.max_features:
            raise PerturbxError(
                f"sampler exhaustive: 2^{n_features} coalitions for {n_features} features is too many "
                f"(max_features={self.max_features}); use fewer features or the kernelshap/permutation sampler"
            )
        return Coalitions(all_coalitions(n_features), fixed=True)


def all_coalitions(n_features: int) -> torch.Tensor:
    """``[2^M, M]`` binary rows; bit j of the row number says whether feature j is kept."""
    codes = torch.arange(2**n_features)[:, None]
    return ((codes >> torch.arange(n_features)) & 1).float()
