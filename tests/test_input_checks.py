"""Bad input is rejected with a clear message before any model query."""

from __future__ import annotations

import pytest
import torch
from conftest import CountingModel, TinyCNN

import perturbx as px

PIPE = px.Pipeline(segmenter={"name": "grid", "cells": 4}, n_samples=8)


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.rand(3, 32, 32), r"shape \[B,C,H,W\]"),
        (torch.randint(0, 255, (1, 3, 32, 32)), "floating-point"),
        (torch.full((1, 3, 32, 32), float("nan")), "NaN"),
        (torch.rand(1, 3, 32, 32) * 2, r"\[0,1\]"),
        (torch.rand(1, 3, 32, 32) - 0.5, r"\[0,1\]"),
        ([[0.5]], "torch.Tensor"),
        (torch.rand(0, 3, 32, 32), "empty"),
    ],
)
def test_bad_images_are_rejected_before_any_query(x: object, match: str) -> None:
    model = CountingModel(TinyCNN())
    with pytest.raises(px.PerturbxError, match=match):
        PIPE.explain(model, x)
    assert model.batches == []


@pytest.mark.parametrize(
    "target,match",
    [
        (-1, ">= 0"),
        (1.5, "expected None"),
        (True, "bool"),
        (torch.tensor([0.5, 1.0]), "integer tensor"),
        (torch.tensor([1, 2, 3]), "one class per image"),
        ([1], "one entry per image"),
        ([1, "a"], "only class indices"),
    ],
)
def test_bad_targets_are_rejected_before_any_query(target: object, match: str) -> None:
    model = CountingModel(TinyCNN())
    with pytest.raises(px.PerturbxError, match=match):
        PIPE.explain(model, torch.rand(2, 3, 32, 32), target=target)
    assert model.batches == []


def test_out_of_range_target_is_rejected_before_perturbing() -> None:
    model = CountingModel(TinyCNN())
    pipe = px.Pipeline(segmenter={"name": "grid", "cells": 4}, n_samples=8)
    with pytest.raises(px.PerturbxError, match="out of range"):
        pipe.explain(model, torch.rand(1, 3, 32, 32), target=7, batch_size=4, progress=False)
    assert model.batches == [1]  # only the unperturbed image was scored


def test_impossible_stage_settings_are_rejected_before_any_query() -> None:
    model = CountingModel(TinyCNN())
    pipe = px.Pipeline(segmenter={"name": "grid", "cells": 40}, n_samples=8)
    with pytest.raises(px.PerturbxError, match="do not fit"):
        pipe.explain(model, torch.rand(1, 3, 32, 32))
    bad_colour = px.Pipeline(substrate={"name": "constant", "color": [0.1, 0.2]}, n_samples=8)
    with pytest.raises(px.PerturbxError, match="colour values"):
        bad_colour.explain(model, torch.rand(1, 3, 32, 32))
    assert model.batches == []
    with pytest.raises(px.ConfigError, match="colour values must lie"):
        px.substrates.Constant(color=1.5)
