"""MIF / LIF / SRG: hand-computed curves at pixel and segment level, normalisation, protocol."""

from __future__ import annotations

import pytest
import torch
from metric_models import MeanModel, tiny_cnn

import perturbx as px
from perturbx.metrics.mif_lif import MifLif


def by_metric(scores: list) -> dict:
    return {s.metric: s for s in scores}


def adapter(model: torch.nn.Module) -> px.ModelAdapter:
    return px.ModelAdapter(model, output="logit", batch_size=16)


def test_pixel_level_curves_towards_grey_match_the_hand_computed_means() -> None:
    x = torch.tensor([0.4, 0.3, 0.2, 0.1]).view(1, 1, 2, 2)
    rows = by_metric(MifLif(points=5).evaluate(adapter(MeanModel()), x, x.clone(), target=0))
    # most first: 0.4, 0.3, 0.2, 0.1 become 0.5 in turn; least first: 0.1, 0.2, 0.3, 0.4
    assert rows["mif"].curve.y.tolist() == pytest.approx([0.25, 0.275, 0.325, 0.4, 0.5])
    assert rows["lif"].curve.y.tolist() == pytest.approx([0.25, 0.35, 0.425, 0.475, 0.5])
    assert rows["mif"].value == pytest.approx(0.35)
    assert rows["lif"].value == pytest.approx(0.4)
    assert rows["srg"].value == pytest.approx(0.05)
    assert rows["srg"].curve is None and rows["mif"].protocol["n_queries"] == 10


def test_normalisation_maps_the_ends_to_one_and_zero() -> None:
    x = torch.tensor([0.4, 0.3, 0.2, 0.1]).view(1, 1, 2, 2)
    rows = by_metric(MifLif(points=5, normalise=True).evaluate(adapter(MeanModel()), x, x.clone(), target=0))
    assert rows["mif"].curve.y.tolist() == pytest.approx([1.0, 0.9, 0.7, 0.4, 0.0])
    assert rows["lif"].value == pytest.approx(0.4)
    assert rows["srg"].value == pytest.approx(0.4 - 0.6)
    assert rows["mif"].protocol["normalise"] is True


def test_segment_level_removes_whole_segments_in_order_of_their_mean_saliency() -> None:
    values = torch.tensor([[0.8, 0.6], [0.4, 0.2]])
    x = values.repeat_interleave(2, 0).repeat_interleave(2, 1)[None, None]
    noise = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 0.01
    metric = MifLif(points=5, segmenter={"name": "grid", "cells": 2}, substrate={"name": "constant", "color": "black"})
    rows = by_metric(metric.evaluate(adapter(MeanModel()), x, x + noise, target=0))
    assert rows["mif"].curve.y.tolist() == pytest.approx([0.5, 0.3, 0.15, 0.05, 0.0])
    assert rows["lif"].curve.y.tolist() == pytest.approx([0.5, 0.45, 0.35, 0.2, 0.0])
    assert rows["srg"].value == pytest.approx(0.1)
    assert rows["mif"].protocol["units"] == 4 and '"grid"' in rows["mif"].protocol["segmenter"]


def test_ten_points_from_nothing_to_everything_removed_by_default() -> None:
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    rows = MifLif().evaluate(adapter(tiny_cnn()), x, torch.rand(2, 1, 16, 16))
    curves = [r.curve for r in rows if r.curve is not None]
    assert len(rows) == 6 and all(len(c.y) == 10 for c in curves)
    assert curves[0].x[0] == 0 and curves[0].x[-1] == 1
    for mif, lif in zip(curves[::2], curves[1::2]):
        assert mif.y[0] == pytest.approx(float(lif.y[0]), abs=1e-6)  # same start and end images
        assert mif.y[-1] == pytest.approx(float(lif.y[-1]), abs=1e-6)
