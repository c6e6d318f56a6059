"""Sparseness (Gini) and complexity (entropy): closed forms and Quantus cross-checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from metric_models import MeanModel

from perturbx.metrics.complexity import Complexity, Sparseness


def values(metric: object, maps: torch.Tensor) -> list[float]:
    x = torch.rand(maps.shape[0], 3, *maps.shape[-2:])
    return [s.value for s in metric.evaluate(MeanModel(), x, maps, target=0)]


def test_closed_forms() -> None:
    uniform, spike = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    spike[0, 0, 2, 1] = -3.0  # magnitudes count
    assert values(Sparseness(), uniform) == [pytest.approx(0.0)]
    assert values(Sparseness(), spike) == [pytest.approx(1 - 1 / 16)]
    assert values(Complexity(), uniform) == [pytest.approx(math.log(16))]
    assert values(Complexity(), spike) == [pytest.approx(0.0)]
    assert all(math.isnan(v) for v in values(Sparseness(), torch.zeros(1, 1, 4, 4)))


@pytest.mark.parametrize(("name", "metric"), [("Sparseness", Sparseness()), ("Complexity", Complexity())])
def test_matches_quantus(name: str, metric: object) -> None:
    quantus = pytest.importorskip("quantus")
    g = torch.Generator().manual_seed(0)
    x, maps = torch.rand(3, 3, 12, 12, generator=g), torch.randn(3, 1, 12, 12, generator=g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = getattr(quantus, name)(abs=True, normalise=False, disable_warnings=True,
                                           display_progressbar=False)(
            model=None, x_batch=x.numpy(), y_batch=np.zeros(3, dtype=int), a_batch=maps.numpy(), channel_first=True)
    # Quantus adds 1e-7 to every |a| (Gini) and 1e-12 inside the log (entropy)
    assert values(metric, maps) == pytest.approx([float(v) for v in reference], abs=1e-5)
