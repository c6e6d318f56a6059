"""RISE through the Pipeline: exact values on a hand-built model, determinism, batch invariance."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from conftest import CountingModel, RegionModel, grid_rise

import perturbx as px
from perturbx.seeding import stream

ROWS, COLS = slice(8, 16), slice(16, 24)  # cell (1, 2) of a 4x4 grid on 32x32


rise = partial(grid_rise, n_samples=200)


def test_rise_on_region_model_is_exact_inside_the_region(images: torch.Tensor) -> None:
    x = images[:1]
    adapter = px.ModelAdapter(RegionModel(ROWS, COLS), output="logit")
    exp = rise().explain(adapter, x, target=0)
    saliency = exp.maps[0, 0]
    region_mean = x[0, 0, ROWS, COLS].mean()
    # every sample that keeps a region pixel keeps the whole region: its score is exactly the region mean
    torch.testing.assert_close(saliency[ROWS, COLS], region_mean.expand(8, 8), atol=1e-5, rtol=0)
    outside = saliency.clone()
    outside[ROWS, COLS] = float("nan")
    # elsewhere the expected value is p * region mean; 200 samples keep it well below the region's value
    assert torch.nanmean(outside) == pytest.approx(0.5 * float(region_mean), rel=0.15)
    assert float(outside.nan_to_num(-1).max()) < float(region_mean)
    assert exp.n_queries == 201
    features = exp.features[0].scores
    assert int(features.argmax()) == 1 * 4 + 2


@pytest.mark.parametrize("edges", ["bilinear", "hard"])
def test_shifted_rise_peaks_on_the_region(images: torch.Tensor, edges: str) -> None:
    adapter = px.ModelAdapter(RegionModel(ROWS, COLS), output="logit")
    exp = rise(segmenter={"name": "grid", "cells": 4, "edges": edges, "shift": True}, n_samples=400).explain(
        adapter, images[:1], target=0
    )
    saliency = exp.maps[0, 0]
    row, col = divmod(int(saliency.argmax()), 32)
    assert 6 <= row < 18 and 14 <= col < 26
    assert saliency[ROWS, COLS].mean() > 1.5 * saliency.mean() - 1e-9 or saliency[ROWS, COLS].mean() > saliency.mean()


def test_same_seed_same_map_and_other_seed_differs(tiny_cnn: torch.nn.Module, images: torch.Tensor) -> None:
    a = rise(n_samples=64).explain(tiny_cnn, images)
    b = rise(n_samples=64).explain(tiny_cnn, images)
    c = rise(n_samples=64, seed=1).explain(tiny_cnn, images)
    assert torch.equal(a.maps, b.maps)
    assert not torch.allclose(a.maps, c.maps)


@pytest.mark.parametrize(
    "segmenter",
    [
        {"name": "grid", "cells": 4},
        {"name": "grid", "cells": 4, "edges": "bilinear", "shift": True},
        {"name": "grid", "cells": 4, "edges": "gaussian", "sigma": 3.0},
    ],
)
def test_maps_do_not_depend_on_batch_size(tiny_cnn: torch.nn.Module, images: torch.Tensor, segmenter: dict) -> None:
    maps = [rise(segmenter=segmenter, n_samples=50).explain(tiny_cnn, images, batch_size=bs).maps for bs in (1, 7, 64)]
    for other in maps[1:]:
        torch.testing.assert_close(other, maps[0], atol=1e-6, rtol=1e-5)


def test_target_forms_agree(tiny_cnn: torch.nn.Module, images: torch.Tensor) -> None:
    pipe = rise(n_samples=30)
    by_int = pipe.explain(tiny_cnn, images, target=2).maps
    by_tensor = pipe.explain(tiny_cnn, images, target=torch.tensor([2, 2])).maps
    by_callable = pipe.explain(tiny_cnn, images, target=lambda out: out[:, 2]).maps
    torch.testing.assert_close(by_int, by_tensor)
    torch.testing.assert_close(by_int, by_callable)


def test_default_target_is_the_predicted_class(tiny_cnn: torch.nn.Module, images: torch.Tensor) -> None:
    exp = rise(n_samples=10).explain(tiny_cnn, images)
    assert exp.targets.tolist() == tiny_cnn(images).argmax(1).tolist()


def test_stream_never_exceeds_the_batch_size(tiny_cnn: torch.nn.Module, images: torch.Tensor) -> None:
    counting = CountingModel(tiny_cnn)
    exp = rise(n_samples=100).explain(counting, images, batch_size=16)
    assert max(counting.batches[1:]) == 16  # the first call is the unperturbed batch
    assert sum(counting.batches) == exp.n_queries == 2 * 101


def test_rise_expected_normalisation_matches_the_original_formula(tiny_cnn: torch.nn.Module) -> None:
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    pipe = rise(attributor={"name": "rise", "normalize": "expected"}, n_samples=64, seed=3)
    exp = pipe.explain(px.ModelAdapter(tiny_cnn, output="logit"), x, target=0)
    segmentation = pipe.segmenter.segment(x[0], stream(3, "segmenter", 0))
    z = pipe.sampler.sample(64, segmentation.n_features, stream(3, "sampler", 0)).z
    masks = segmentation.keep_masks(z, torch.arange(64))
    with torch.no_grad():
        scores = tiny_cnn(masks[:, None] * x)[:, 0]
    expected = (scores[:, None, None] * masks).sum(0) / (64 * z.mean())
    torch.testing.assert_close(exp.maps[0, 0], expected, atol=1e-5, rtol=1e-4)
