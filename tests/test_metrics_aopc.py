"""AOPC: hand-computed MoRF/LeRF values and a cross-check with Quantus' region perturbation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from metric_models import MeanModel, tiny_cnn

import perturbx as px
from perturbx.metrics.aopc import Aopc

BLACK = {"name": "constant", "color": "black"}


def test_morf_and_lerf_on_the_mean_model() -> None:
    values = torch.tensor([[0.8, 0.6], [0.4, 0.2]])
    x = values.repeat_interleave(2, 0).repeat_interleave(2, 1)[None, None]
    adapter = px.ModelAdapter(MeanModel(), output="logit", batch_size=8)
    rows = {s.metric: s for s in Aopc(patch=2, regions=4, substrate=BLACK).evaluate(adapter, x, x.clone(), 0)}
    assert rows["aopc_morf"].curve.y.tolist() == pytest.approx([0.0, 0.2, 0.35, 0.45, 0.5])
    assert rows["aopc_morf"].value == pytest.approx(0.3)
    assert rows["aopc_lerf"].value == pytest.approx(0.2)
    assert rows["aopc_morf"].protocol["points"] == 5


def test_regions_are_capped_at_the_number_of_patches() -> None:
    x = torch.rand(1, 3, 10, 10)
    adapter = px.ModelAdapter(tiny_cnn(), output="logit", batch_size=8)
    [row] = Aopc(patch=4, orders=["lerf"]).evaluate(adapter, x, torch.rand(1, 1, 10, 10))
    assert row.metric == "aopc_lerf" and len(row.curve.y) == 9 + 1  # 3×3 patches, partial at the edges


@pytest.mark.parametrize("order", ["morf", "lerf"])
def test_the_curve_matches_quantus_region_perturbation(order: str) -> None:
    quantus = pytest.importorskip("quantus")
    model = tiny_cnn()
    g = torch.Generator().manual_seed(0)
    x, maps = torch.rand(3, 3, 16, 16, generator=g), torch.randn(3, 1, 16, 16, generator=g)
    y = np.array([0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = quantus.RegionPerturbation(patch_size=4, regions_evaluation=6, order=order,
                                               perturb_baseline=0.0, abs=False, normalise=False,
                                               disable_warnings=True, display_progressbar=False)(
            model=model, x_batch=x.numpy(), y_batch=y, a_batch=maps.numpy(), channel_first=True,
            softmax=False, device="cpu")
    adapter = px.ModelAdapter(model, output="logit", batch_size=64)
    rows = Aopc(patch=4, regions=6, orders=[order], substrate=BLACK).evaluate(adapter, x, maps, target=[0, 1, 2])
    for row, expected in zip(rows, reference):
        assert row.curve.y[1:].tolist() == pytest.approx(np.asarray(expected).tolist(), abs=1e-5)
        assert row.value == pytest.approx(float(np.sum(expected)) / 7, abs=1e-5)
