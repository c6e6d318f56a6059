"""Pointing games and relevance mass / rank accuracy: hand-made cases and Quantus cross-checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from metric_models import MeanModel

import perturbx as px
from perturbx.metrics.localisation import (
    EnergyPointingGame,
    PointingGame,
    RelevanceMassAccuracy,
    RelevanceRankAccuracy,
)


def region_box(rows: slice, cols: slice, size: int = 40) -> torch.Tensor:
    region = torch.zeros(1, size, size, dtype=torch.bool)
    region[0, rows, cols] = True
    return region


def peak_at(row: int, col: int, size: int = 40) -> torch.Tensor:
    maps = torch.zeros(1, 1, size, size)
    maps[0, 0, row, col] = 1.0
    return maps


def one(metric: px.metrics.Metric, maps: torch.Tensor, regions: torch.Tensor) -> float:
    x = torch.rand(maps.shape[0], 3, *maps.shape[-2:])
    return [s.value for s in metric.evaluate(MeanModel(), x, maps, target=0, regions=regions)]


def test_pointing_game_counts_a_hit_within_the_tolerance_only() -> None:
    region = region_box(slice(10, 20), slice(10, 20))
    assert one(PointingGame(), peak_at(15, 15), region) == [1.0]
    assert one(PointingGame(), peak_at(15, 34), region) == [1.0]  # 15 px right of column 19
    assert one(PointingGame(), peak_at(15, 35), region) == [0.0]  # 16 px
    assert one(PointingGame(tolerance=0), peak_at(15, 20), region) == [0.0]
    assert one(PointingGame(), peak_at(29, 29), region) == [1.0]  # diagonal 10·√2 ≈ 14.1 px
    assert one(PointingGame(), peak_at(30, 30), region) == [0.0]  # 11·√2 ≈ 15.6 px


def test_energy_pointing_game_uses_the_bounding_box_and_the_positive_part() -> None:
    region = torch.zeros(1, 4, 4, dtype=torch.bool)
    region[0, 0, 0] = region[0, 1, 1] = True  # box = top-left 2×2
    maps = torch.tensor([[3.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, -5.0, 0.0], [0.0, 0.0, 0.0, 4.0]])
    maps = maps[None, None]
    assert one(EnergyPointingGame(), maps, region) == [pytest.approx(4 / 10)]
    assert one(RelevanceMassAccuracy(), maps, region) == [pytest.approx(3 / 10)]
    assert one(RelevanceMassAccuracy(relevance="absolute"), maps, region) == [pytest.approx(3 / 15)]
    assert one(RelevanceMassAccuracy(relevance="signed"), maps, region) == [pytest.approx(3 / 5)]


def test_rank_accuracy_counts_the_top_k_pixels_inside() -> None:
    region = torch.zeros(1, 3, 3, dtype=torch.bool)
    region[0, 0, :] = True  # K = 3
    maps = torch.tensor([[9.0, 1.0, 8.0], [7.0, 0.0, 0.0], [0.0, 0.0, 0.0]])[None, None]
    assert one(RelevanceRankAccuracy(), maps, region) == [pytest.approx(2 / 3)]


def test_localisation_needs_regions_and_checks_them_before_any_query() -> None:
    model, x, maps = MeanModel(), torch.rand(2, 3, 8, 8), torch.rand(2, 1, 8, 8)
    with pytest.raises(px.PerturbxError, match="needs regions"):
        PointingGame().evaluate(model, x, maps)
    with pytest.raises(px.PerturbxError, match="regions: expected shape"):
        PointingGame().evaluate(model, x, maps, regions=torch.ones(2, 4, 4, dtype=torch.bool))
    empty = torch.ones(2, 8, 8, dtype=torch.bool)
    empty[1] = False
    with pytest.raises(px.PerturbxError, match=r"images \[1\] are empty"):
        PointingGame().evaluate(model, x, maps, regions=empty)
    assert model.calls == 0


QUANTUS = {
    "PointingGame": PointingGame(tolerance=0),
    "RelevanceMassAccuracy": RelevanceMassAccuracy(relevance="signed"),
    "RelevanceRankAccuracy": RelevanceRankAccuracy(),
}


@pytest.mark.parametrize("name", list(QUANTUS))
def test_matches_quantus_on_random_maps(name: str) -> None:
    quantus = pytest.importorskip("quantus")
    g = torch.Generator().manual_seed(0)
    x, maps = torch.rand(4, 3, 16, 16, generator=g), torch.rand(4, 1, 16, 16, generator=g) - 0.3
    regions = torch.zeros(4, 1, 16, 16)
    for b, (r, c) in enumerate([(0, 0), (4, 3), (8, 9), (2, 10)]):
        regions[b, 0, r:r + 6, c:c + 5] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = getattr(quantus, name)(abs=False, normalise=False, disable_warnings=True,
                                           display_progressbar=False)(
            model=None, x_batch=x.numpy(), y_batch=np.zeros(4, dtype=int), a_batch=maps.numpy(),
            s_batch=regions.numpy(), channel_first=True)
    metric = QUANTUS[name]
    ours = [s.value for s in metric.evaluate(MeanModel(), x, maps, target=0, regions=regions)]
    assert ours == pytest.approx([float(v) for v in reference], abs=1e-5)
