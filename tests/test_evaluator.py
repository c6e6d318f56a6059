"""px.evaluate: one tidy table for pipelines, specs and precomputed maps, validated before any query."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import CountingModel
from metric_models import tiny_cnn

import perturbx as px

PIPELINE = {"name": "pipeline", "segmenter": {"name": "grid", "cells": 4}, "n_samples": 40}


def setup() -> tuple[px.ModelAdapter, torch.Tensor]:
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    return px.ModelAdapter(tiny_cnn(), batch_size=32), x


def test_one_row_per_image_explainer_and_metric_with_protocol_columns(tmp_path: object) -> None:
    adapter, x = setup()
    maps = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    results = px.evaluate(adapter, x, {"rise": PIPELINE, "given": maps, "object": px.Pipeline(**{
        k: v for k, v in PIPELINE.items() if k != "name"})}, ["deletion", {"name": "insertion", "step": 32},
                                                              "sparseness"])
    assert len(results) == 2 * 3 * 3
    assert {(r["explainer"], r["metric"]) for r in results} == {
        (e, m) for e in ("rise", "given", "object") for m in ("deletion", "insertion", "sparseness")}
    deletion = [r for r in results if r["metric"] == "deletion"]
    assert all(r["step"] == 224 and r["output"] == "probability" and "trapezoid" in r["auc"] for r in deletion)
    assert {r["step"] for r in results if r["metric"] == "insertion"} == {32}
    assert set(results.curves) == {(r["image"], r["explainer"], r["metric"]) for r in results
                                   if r["metric"] != "sparseness"}
    predicted = adapter(x).argmax(1).tolist()
    assert all(r["class"] == predicted[r["image"]] for r in results)
    assert all(r["explain_queries"] is None for r in results if r["explainer"] == "given")
    assert all(r["explain_queries"] == 41 and r["explain_seconds"] > 0 for r in results if r["explainer"] == "rise")
    frame = results.to_pandas()
    assert list(frame.columns[:4]) == ["image", "explainer", "metric", "value"] and len(frame) == 18
    path = tmp_path / "scores.csv"
    results.to_csv(path)
    with open(path) as handle:
        assert len(list(csv.DictReader(handle))) == 18
    means = results.mean()
    assert means[("given", "sparseness")] == pytest.approx(sum(
        r["value"] for r in results if r["explainer"] == "given" and r["metric"] == "sparseness") / 2)


def test_same_pipeline_twice_gives_the_same_rows_and_numbered_names() -> None:
    adapter, x = setup()
    results = px.evaluate(adapter, x, [PIPELINE, PIPELINE], "deletion", target=1)
    names = sorted({r["explainer"] for r in results})
    assert names == ["pipeline", "pipeline#2"]
    first = [r["value"] for r in results if r["explainer"] == "pipeline"]
    assert first == [r["value"] for r in results if r["explainer"] == "pipeline#2"]
    assert all(r["class"] == 1 for r in results)


def test_the_evaluator_agrees_with_each_metric_called_alone() -> None:
    adapter, x = setup()
    maps = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    metric = px.build("metric", {"name": "mif_lif", "points": 6})
    results = px.evaluate(adapter, x, {"m": maps}, [metric])
    alone = metric.evaluate(adapter, x, maps)
    assert [r["value"] for r in results] == pytest.approx([s.value for s in alone])


@pytest.mark.parametrize(("explainers", "metrics", "message"), [
    ({"m": torch.rand(2, 16, 16)}, "deletion", "unsqueeze"),
    ({"m": torch.rand(2, 1, 16, 16)}, "delition", "Did you mean 'deletion'"),
    ({"m": torch.rand(2, 1, 16, 16)}, "pointing_game", "needs regions"),
    (torch.rand(2, 1, 16, 16), "deletion", "need a name"),
    ({"m": torch.rand(2, 1, 16, 16)}, [], "at least one metric"),
    ({}, "deletion", "at least one explainer"),
    ({"p": {"name": "pipeline", "n_samples": 0}}, "deletion", "n_samples"),
])
def test_bad_arguments_fail_before_any_query(explainers: object, metrics: object, message: str) -> None:
    model = CountingModel(tiny_cnn())
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(px.PerturbxError, match=message):
        px.evaluate(px.ModelAdapter(model, batch_size=8), x, explainers, metrics)
    assert model.batches == []


def test_the_callers_model_is_left_as_found() -> None:
    model = tiny_cnn().train()
    model[0].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(1, 3, 16, 16)
    px.evaluate(px.ModelAdapter(model, batch_size=8), x, PIPELINE, ["deletion", "aopc"])
    assert model.training and not model[0].weight.requires_grad and model[2].weight.requires_grad
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_curves_on_the_real_model_start_and_end_at_the_right_images(real_model: torch.nn.Module) -> None:
    x = px.data.image("chelsea")
    adapter = px.ModelAdapter(real_model, batch_size=16)
    maps = px.build("explainer", "gradcam").explain(adapter, x).maps
    metrics = [{"name": "deletion", "step": 1792}, {"name": "insertion", "step": 1792}]
    results = px.evaluate(adapter, x, {"gradcam": maps, "inverse": -maps}, metrics)
    value = {(r["explainer"], r["metric"]): r["value"] for r in results}
    assert value[("gradcam", "deletion")] < value[("inverse", "deletion")]
    assert all(r["n_queries"] == 29 and r["class"] == 285 for r in results)  # Egyptian cat
    mean = torch.tensor(px.models.IMAGENET_MEAN).view(1, 3, 1, 1).expand_as(x)
    blurred = px.build("substrate", "rise_blur").prepare(x[0], None, None)[None]
    p = adapter(torch.cat([x, mean, blurred]))[:, 285]
    deletion, insertion = results.curves[(0, "gradcam", "deletion")], results.curves[(0, "gradcam", "insertion")]
    assert deletion.y[[0, -1]].tolist() == pytest.approx(p[[0, 1]].tolist(), abs=1e-5)
    assert insertion.y[[0, -1]].tolist() == pytest.approx(p[[2, 0]].tolist(), abs=1e-5)
