"""Model-parameter randomisation (Adebayo et al. 2018): re-initialise layers from the top down on a
deep copy of the model, explain again, and compare each new map with the original by rank correlation."""

from __future__ import annotations

import copy
import json
from typing import ClassVar

import numpy as np
import scipy.stats
import torch
from pydantic import Field
from torch import nn

from perturbx import registry
from perturbx.metrics.base import Curve, Metric, MetricContext, Score, target_label
from perturbx.models.adapter import ModelAdapter
from perturbx.targets import Targets


def parameter_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules that own parameters directly, in registration (roughly forward) order."""
    return [(name, m) for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]


def reinitialise(module: nn.Module, seed: int) -> None:
    """``reset_parameters()`` under a fixed seed; parameters of other modules drawn from a Gaussian with the
    mean and standard deviation of their current values."""
    devices = [p.device for p in module.parameters() if p.device.type == "cuda"][:1]
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
            return
        for p in module.parameters(recurse=False):
            spread = p.std() if p.numel() > 1 else p.abs()
            p.copy_(torch.randn_like(p) * spread + p.mean())


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two maps (average ranks for ties; NaN when a map is constant)."""
    a, b = a.flatten().double().cpu().numpy(), b.flatten().double().cpu().numpy()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(scipy.stats.spearmanr(a, b).statistic)


@registry.register("model_randomisation", paper="Adebayo et al. 2018 (sanity checks), cascading randomisation")
class ModelRandomisation(Metric):
    """Row ``model_randomisation``: the mean Spearman correlation between the original map and the maps
    after randomising the top 1, 2, …, L layers (cumulatively); lower means the explanation depends
    more on the learned weights. The curve holds each step's correlation. The caller's model is never
    touched: layers are randomised in a deep copy.
    """

    requires: ClassVar[tuple[str, ...]] = ("explainer",)

    layers: int | None = Field(None, ge=1, description="randomise only the top this many parameter layers; None: all")
    absolute: bool = Field(True, description="compare |maps| (as Adebayo et al. for most figures) or signed maps")
    seed: int = Field(0, ge=0, description="seed of the re-initialisation (layer k from the top uses seed + k)")

    def score(
        self, adapter: ModelAdapter, x: torch.Tensor, maps: torch.Tensor, targets: Targets, context: MetricContext
    ) -> list[Score]:
        explainer = context.explainer
        randomised = copy.copy(adapter)
        randomised.model = copy.deepcopy(adapter.model)
        layers = parameter_layers(randomised.model)[::-1][: self.layers]
        target = targets.classes if targets.classes is not None else targets.fns
        original = maps.abs() if self.absolute else maps
        correlations, queries = [], 0
        for k, (_, module) in enumerate(layers):
            reinitialise(module, self.seed + k)
            explanation = explainer.explain(randomised, x, target)
            queries += explanation.n_queries
            new = explanation.maps.abs() if self.absolute else explanation.maps
            correlations.append([spearman(original[b], new[b]) for b in range(x.shape[0])])
        table = torch.tensor(correlations, dtype=torch.float64).T
        protocol = self.protocol(adapter) | {
            "similarity": "spearman", "cascading": "top-down, cumulative",
            "reinit": "reset_parameters() (else Gaussian with the parameter's mean and std)",
            "randomised_layers": json.dumps([name for name, _ in layers]),
            "n_queries": queries // x.shape[0]}
        steps = torch.arange(1, len(layers) + 1, dtype=torch.float32)
        return [Score(b, self.name, float(table[b].mean()), protocol | {"class": target_label(targets, b)},
                      Curve(steps, table[b].float(), "layers randomised from the top")) for b in range(x.shape[0])]
