"""The sampler contract: coalitions ``Z [N,M]`` in [0,1], 1 = keep the feature, 0 = replace it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from perturbx.registry import Component


@dataclass
class Coalitions:
    """Sampled coalitions and, for samplers that weight them (KernelSHAP), per-row weights.

    ``groups [N]`` numbers the independent draws when rows are drawn together (antithetic pairs, the
    two chains of a permutation and its reverse, one Saltelli design point): consecutive rows share a
    number, which never decreases; ``None`` means every row is its own draw. Standard errors treat
    groups, not rows, as the independent units. ``fixed`` marks a deterministic design (exhaustive,
    leave-one-out): nothing is estimated, so every standard error is exactly 0. ``keep_rate`` is set when
    every row, taken alone, keeps each feature independently with this one probability (estimators that
    need the design's exact moments, such as RISE's control variate, ask).
    """

    z: torch.Tensor
    weights: torch.Tensor | None = None
    groups: torch.Tensor | None = None
    fixed: bool = False
    keep_rate: float | None = None

    def __len__(self) -> int:
        return self.z.shape[0]

    def group_ids(self) -> torch.Tensor:
        """The group of every row, ``0..G-1`` (each row alone when no groups were given)."""
        if self.groups is None:
            return torch.arange(len(self))
        return torch.unique_consecutive(self.groups, return_inverse=True)[1]


class Sampler(Component):
    """Draw coalitions on the CPU from a seeded generator, so the design is identical on every device.

    ``n_samples`` is a request: samplers with a fixed design (exhaustive, single-feature) say how
    many rows they need through :meth:`size`.
    """

    kind: ClassVar[str] = "sampler"

    def has_empty_row(self) -> bool:
        """Whether every design drawn holds the all-removed coalition (attributors that need ``y(∅)`` ask)."""
        return False

    def size(self, n_samples: int, n_features: int) -> int:
        """How many rows :meth:`sample` returns for this request."""
        return n_samples

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Coalitions:
        """Draw the coalition matrix ``[N,M]`` (1 = keep the feature) from ``generator``."""
        raise NotImplementedError
