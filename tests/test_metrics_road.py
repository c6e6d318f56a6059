"""ROAD: each point equals the model on the imputed image, noise is seeded, chunking does not matter."""

from __future__ import annotations

import pytest
import torch
from metric_models import MeanModel, tiny_cnn

import perturbx as px
from perturbx.metrics.road import Road
from perturbx.perturb.imputation import noisy_linear_impute


def test_points_are_the_model_on_noiseless_imputations() -> None:
    model = tiny_cnn()
    g = torch.Generator().manual_seed(0)
    x, maps = torch.rand(2, 3, 12, 12, generator=g), torch.rand(2, 1, 12, 12, generator=g)
    adapter = px.ModelAdapter(model, output="logit", batch_size=5)
    rows = Road(percentages=[0, 25, 50, 100 / 3], noise_std=0.0).evaluate(adapter, x, maps, target=[2, 4])
    assert [r.metric for r in rows] == ["road_morf", "road_lerf", "road_morf", "road_lerf", "road_combined",
                                        "road_combined"]
    for row in rows[:4]:
        b = row.image
        order = torch.argsort(-maps[b].flatten() if row.metric == "road_morf" else maps[b].flatten(), stable=True)
        expected = []
        for count in (0, 36, 72, 48):
            removed = torch.zeros(144, dtype=torch.bool)
            removed[order[:count]] = True
            with torch.no_grad():
                image = noisy_linear_impute(x[b], removed.view(12, 12), 0.0)
                expected.append(float(model(image[None])[0, [2, 4][b]]))
        assert row.curve.y.tolist() == pytest.approx(expected, abs=1e-5)
        assert row.value == pytest.approx(sum(expected) / 4, abs=1e-5)
    combined = {r.image: r.value for r in rows if r.metric == "road_combined"}
    for b in (0, 1):
        lerf, morf = (next(r.value for r in rows if r.image == b and r.metric == m) for m in ("road_lerf", "road_morf"))
        assert combined[b] == pytest.approx(lerf - morf)


def test_a_flat_image_stays_flat_under_noiseless_imputation() -> None:
    x = torch.full((1, 3, 8, 8), 0.3)
    rows = Road(orders=["morf"], noise_std=0.0).evaluate(px.ModelAdapter(MeanModel(), output="logit"), x,
                                                         torch.rand(1, 1, 8, 8), target=0)
    assert rows[0].curve.y.tolist() == pytest.approx([0.3] * 9)


def test_seeded_noise_is_independent_of_the_chunk_size() -> None:
    g = torch.Generator().manual_seed(1)
    x, maps = torch.rand(2, 3, 10, 10, generator=g), torch.rand(2, 1, 10, 10, generator=g)
    adapter = px.ModelAdapter(tiny_cnn(), output="logit", batch_size=8)
    runs = [Road(seed=3).evaluate(adapter, x, maps, batch_size=size) for size in (1, 4, 100)]
    for other in runs[1:]:
        assert [r.value for r in other] == pytest.approx([r.value for r in runs[0]], abs=1e-6)
    noisier = Road(seed=4).evaluate(adapter, x, maps, batch_size=4)
    assert [r.value for r in noisier] != pytest.approx([r.value for r in runs[0]], abs=1e-9)
