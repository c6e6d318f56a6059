"""Properties of the map alone: sparseness (Gini index) and complexity (entropy)."""

from __future__ import annotations

import torch

from perturbx import registry
from perturbx.metrics.base import Metric, MetricContext, Score, target_label
from perturbx.models.adapter import ModelAdapter
from perturbx.targets import Targets


class _MapProperty(Metric):
    """A score per image from the magnitudes ``|a|`` of its map, flattened; no model queries."""

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        protocol = self.protocol() | {"relevance": "absolute", "n_queries": 0}
        return [Score(b, self.name, self.value(maps[b].flatten().double().abs()),
                      protocol | {"class": target_label(targets, b)}) for b in range(x.shape[0])]

    def value(self, a: torch.Tensor) -> float:
        """The score of one map's absolute values, flattened."""
        raise NotImplementedError


@registry.register("sparseness", paper="Chalasani et al. 2020, Gini index of |a|")
class Sparseness(_MapProperty):
    """Gini index of ``|a|``: ``Σ_i (2i − n − 1)·a_(i) / (n·Σ a)`` over ``|a|`` sorted ascending, i = 1..n;
    higher is sparser (NaN for an all-zero map)."""

    def value(self, a: torch.Tensor) -> float:
        n, total = a.numel(), a.sum()
        if total == 0:
            return float("nan")
        i = torch.arange(1, n + 1, dtype=a.dtype)
        return float(((2 * i - n - 1) * a.sort().values).sum() / (n * total))


@registry.register("complexity", paper="Bhatt et al. 2020, entropy of the fractional contribution |a|/Σ|a|")
class Complexity(_MapProperty):
    """Entropy ``−Σ p·ln p`` of ``p = |a|/Σ|a|`` (``0·ln 0 = 0``); lower is simpler (NaN for an all-zero map)."""

    def value(self, a: torch.Tensor) -> float:
        total = a.sum()
        if total == 0:
            return float("nan")
        p = a / total
        return float(-(p * torch.log(p.where(p > 0, torch.ones_like(p)))).sum())
