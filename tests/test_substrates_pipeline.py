"""The new segmenters and substrates inside a Pipeline, built from dicts and YAML, on a tiny model."""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn

import perturbx as px

SEGMENTERS = [{"name": "slic", "n_segments": 12}, {"name": "felzenszwalb", "scale": 20, "min_size": 10},
              {"name": "quickshift", "max_dist": 5}, {"name": "watershed", "markers": 8, "edges": "gaussian"},
              {"name": "callable", "function": "skimage.segmentation:slic", "kwargs": {"n_segments": 6}},
              {"name": "partitions", "segmenters": [{"name": "slic", "n_segments": 6}]},
              {"name": "disks", "radius": 12, "stride": 8}]
SUBSTRATES = ["mean", "median", "uniform_noise", "gaussian_noise", "segment_mean", "histogram", "random_color",
              "image", "images", "inpaint", "noisy_linear"]


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 5))


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return px.data.image("chelsea", size=32)


def explain(x: torch.Tensor, batch_size: int = 8, **stages: object) -> px.Explanation:
    settings = {"n_samples": 16, **stages}
    return px.Pipeline(**settings).explain(tiny_model(), x, batch_size=batch_size, progress=False)


def test_slic_with_inpainting_from_dicts_and_yaml(x: torch.Tensor) -> None:
    exp = explain(x, segmenter={"name": "slic", "n_segments": 50}, substrate={"name": "inpaint", "method": "telea"})
    assert exp.maps.shape == (1, 1, 32, 32) and torch.isfinite(exp.maps).all() and exp.maps.std() > 0
    text = """
    name: pipeline
    segmenter: {name: slic, n_segments: 50}
    substrate: {name: inpaint, method: telea}
    n_samples: 16
    """
    from_yaml = px.build("explainer", yaml.safe_load(text))
    assert torch.equal(from_yaml.explain(tiny_model(), x, batch_size=8, progress=False).maps, exp.maps)
    assert exp.meta["explainer"]["substrate"] == {"name": "inpaint", "threshold": 0.5, "method": "telea", "radius": 1.0}


@pytest.mark.parametrize("segmenter", SEGMENTERS, ids=lambda s: s["name"])
def test_every_segmenter_explains(x: torch.Tensor, segmenter: dict) -> None:
    exp = explain(x, segmenter=segmenter, substrate="mean")
    assert torch.isfinite(exp.maps).all() and exp.features[0].segmentation.n_features > 1
    assert px.build("segmenter", exp.meta["explainer"]["segmenter"]).spec() == exp.meta["explainer"]["segmenter"]


@pytest.mark.parametrize("substrate", SUBSTRATES)
def test_every_substrate_explains_reproducibly(x: torch.Tensor, substrate: str) -> None:
    spec = {"segmenter": {"name": "grid", "cells": 4, "edges": "bilinear"}, "substrate": substrate}
    first, again = explain(x, **spec), explain(x, **spec)
    assert torch.isfinite(first.maps).all() and torch.equal(first.maps, again.maps)


@pytest.mark.parametrize("substrate", ["noisy_linear", "images"])
def test_per_sample_fills_do_not_depend_on_batch_size(x: torch.Tensor, substrate: str) -> None:
    spec = {"segmenter": {"name": "slic", "n_segments": 12}, "substrate": substrate, "n_samples": 10}
    torch.testing.assert_close(explain(x, **spec, batch_size=3).maps, explain(x, **spec, batch_size=10).maps)
