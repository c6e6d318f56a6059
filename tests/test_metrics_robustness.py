"""Max-sensitivity, infidelity and faithfulness correlation: exact values on linear models, Captum cross-checks."""

from __future__ import annotations

import pytest
import torch
from metric_models import ImageItself, InputTimesGradient, LinearModel, tiny_cnn

import perturbx as px
from perturbx.metrics.robustness import FaithfulnessCorrelation, Infidelity, MaxSensitivity


def linear(seed: int = 0) -> tuple[px.ModelAdapter, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(1, 1, 8, 8, generator=g)
    x = torch.rand(2, 1, 8, 8, generator=g) * 0.8 + 0.1
    return px.ModelAdapter(LinearModel(weight), output="logit", batch_size=16), x, weight


def test_max_sensitivity_matches_captum_with_the_same_noise() -> None:
    captum_metrics = pytest.importorskip("captum.metrics")
    model = tiny_cnn()
    x = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(1)) * 0.9 + 0.05
    explainer, adapter = InputTimesGradient(), px.ModelAdapter(model, output="logit", batch_size=8)
    metric = MaxSensitivity(samples=6, radius=0.03, seed=2)
    maps = explainer.explain(adapter, x, target=[1, 2]).maps
    rows = metric.evaluate(adapter, x, maps, target=[1, 2], explainer=explainer)
    noise = torch.stack([metric._noise(x.shape[1:]) for _ in range(2)]).flatten(0, 1)

    def perturb(inputs: torch.Tensor | tuple, radius: float) -> torch.Tensor:
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs  # captum passes tuples
        return (inputs + noise).clamp(0, 1)

    def explain(inputs: torch.Tensor | tuple, target: torch.Tensor) -> tuple[torch.Tensor]:
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs
        return (explainer.explain(adapter, inputs, target=target).maps,)

    reference = captum_metrics.sensitivity_max(explain, x, perturb_func=perturb, perturb_radius=0.03,
                                               n_perturb_samples=6, max_examples_per_batch=12,
                                               target=torch.tensor([1, 2]))
    assert [r.value for r in rows] == pytest.approx(reference.tolist(), rel=1e-5)


def test_max_sensitivity_of_the_image_itself_is_bounded_by_the_radius() -> None:
    x = torch.full((1, 3, 8, 8), 0.5)
    rows = MaxSensitivity(relative=False).evaluate(tiny_cnn(), x, x.mean(1, keepdim=True), explainer=ImageItself())
    assert 0 < rows[0].value <= 0.02 * 8


def test_infidelity_is_zero_for_the_exact_linear_map_and_the_noise_energy_for_a_null_map() -> None:
    adapter, x, weight = linear()
    maps = weight.expand(2, 1, 8, 8).clone()
    exact = Infidelity(samples=20).evaluate(adapter, x, maps, target=0)
    assert all(r.value == pytest.approx(0.0, abs=1e-9) for r in exact)
    null = Infidelity(samples=4000, noise_std=0.1).evaluate(adapter, x, torch.zeros_like(maps), target=0)
    assert null[0].value == pytest.approx(0.01 * float((weight**2).sum()), rel=0.1)
    scaled = Infidelity(samples=20, normalise=True).evaluate(adapter, x, 3 * maps, target=0)
    assert scaled[0].value == pytest.approx(0.0, abs=1e-9)


def test_infidelity_matches_captum_with_the_same_noise() -> None:
    captum_metrics = pytest.importorskip("captum.metrics")
    model = tiny_cnn()
    x = torch.rand(1, 3, 10, 10, generator=torch.Generator().manual_seed(4))
    maps = torch.randn(1, 1, 10, 10, generator=torch.Generator().manual_seed(5))
    [row] = Infidelity(samples=8, noise_std=0.05, seed=7).evaluate(
        px.ModelAdapter(model, output="logit", batch_size=4), x, maps, target=3)
    noise = torch.randn((8, 3, 10, 10), generator=torch.Generator().manual_seed(7)) * 0.05

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return noise, inputs - noise

    with torch.no_grad():
        reference = captum_metrics.infidelity(model, perturb, x, maps.expand(1, 3, 10, 10), target=3,
                                              n_perturb_samples=8)
    assert row.value == pytest.approx(float(reference), rel=1e-4)


def test_faithfulness_correlation_is_plus_or_minus_one_for_a_linear_model() -> None:
    adapter, x, weight = linear(1)
    maps = weight * x
    for sign in (1, -1):
        rows = FaithfulnessCorrelation(subset=10, runs=30).evaluate(adapter, x, sign * maps, target=0)
        assert [r.value for r in rows] == pytest.approx([float(sign)] * 2, abs=1e-6)
    assert rows[0].protocol["pixels_per_set"] == 10 and rows[0].protocol["n_queries"] == 31
