"""Model randomisation: a deep copy is randomised top-down, the caller's model never; an explanation that
ignores the model keeps correlation 1."""

from __future__ import annotations

import copy
import json

import pytest
import scipy.stats
import torch
from metric_models import ImageItself, InputTimesGradient, tiny_cnn

import perturbx as px
from perturbx.metrics.randomisation import ModelRandomisation, parameter_layers, reinitialise


def test_correlations_match_explaining_a_manually_randomised_copy() -> None:
    model = tiny_cnn()
    before = copy.deepcopy(model.state_dict())
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    explainer = InputTimesGradient()
    adapter = px.ModelAdapter(model, output="logit", batch_size=8)
    maps = explainer.explain(adapter, x, target=1).maps
    rows = ModelRandomisation(layers=2, seed=5).evaluate(adapter, x, maps, target=1, explainer=explainer)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert json.loads(rows[0].protocol["randomised_layers"]) == ["6", "2"]  # the linear head, then conv 2
    manual = copy.deepcopy(model)
    expected = []
    for k, (_, module) in enumerate(parameter_layers(manual)[::-1][:2]):
        reinitialise(module, 5 + k)
        new = explainer.explain(px.ModelAdapter(manual, output="logit", batch_size=8), x, target=1).maps
        expected.append([scipy.stats.spearmanr(maps[b].abs().flatten(), new[b].abs().flatten()).statistic
                         for b in range(2)])
    for b, row in enumerate(rows):
        assert row.curve.y.tolist() == pytest.approx([e[b] for e in expected], abs=1e-6)
        assert row.value == pytest.approx(sum(e[b] for e in expected) / 2, abs=1e-6)
        assert row.value < 0.99


def test_an_explanation_that_ignores_the_model_fails_the_check() -> None:
    x = torch.rand(1, 3, 12, 12)
    adapter = px.ModelAdapter(tiny_cnn(), batch_size=8)
    rows = ModelRandomisation().evaluate(adapter, x, x.mean(1, keepdim=True), explainer=ImageItself())
    assert rows[0].value == pytest.approx(1.0) and len(rows[0].curve.y) == 3


def test_needs_an_explainer_and_the_evaluator_refuses_precomputed_maps() -> None:
    x = torch.rand(1, 3, 12, 12)
    with pytest.raises(px.PerturbxError, match="needs explainer"):
        ModelRandomisation().evaluate(tiny_cnn(), x, torch.rand(1, 1, 12, 12))
    with pytest.raises(px.PerturbxError, match="must be an explainer object"):
        ModelRandomisation().evaluate(tiny_cnn(), x, torch.rand(1, 1, 12, 12), explainer="saliency")
    with pytest.raises(px.PerturbxError, match="cannot score the precomputed maps"):
        px.evaluate(tiny_cnn(), x, {"given": torch.rand(1, 1, 12, 12)}, "model_randomisation")
