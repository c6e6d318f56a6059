"""The stopping rule's ``measure: correlation`` and ``measure: rank``: the expected Pearson and Spearman
correlation of a map with its converged value, checked against the true map of known-answer models, and their
building blocks checked exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from test_rise_control import CELLS, SIZE, accumulate, pixel_truth

import perturbx as px
from perturbx.attributors.base import Accumulator, Attribution
from perturbx.attributors.uncertainty import (
    average_ranks,
    centred_noise,
    correlation_shortfall,
    covariance_draws,
    rank_shortfall,
    spearman,
)
from perturbx.segmenters.grid import Grid
from perturbx.segmenters.segmentation import Segmentation

pytestmark = pytest.mark.usefixtures("one_thread")


def explain(attributor: object, n: int, seed: int) -> tuple[torch.Tensor, float, torch.Tensor]:
    """The pixel map, its predicted correlation with the limit, and its stderr, on the shifted 3x3 grid."""
    accumulator = accumulate(attributor, "bernoulli", n, seed, chunk=n)
    result = accumulator.result()
    return result.pixels.double(), 1 - accumulator.error("correlation"), result.pixels_stderr.double()


@pytest.mark.parametrize("attributor", ["rise", {"name": "rise", "control": "linear"}])
def test_predicted_correlation_matches_the_correlation_with_the_true_map(attributor: object) -> None:
    truth = pixel_truth(Grid(cells=CELLS, edges="bilinear", shift=True).segment(torch.zeros(3, SIZE, SIZE),
                                                                                torch.Generator()))
    observed, predicted, naive = [], [], []
    for seed in range(80):
        saliency, rho, stderr = explain(attributor, 160, seed)
        observed.append(float(np.corrcoef(saliency.flatten(), truth.flatten())[0, 1]))
        predicted.append(rho)
        naive.append(1 - correlation_shortfall(saliency, float(stderr.pow(2).mean())))
    assert abs(np.mean(observed) - np.mean(predicted)) < 0.02, (np.mean(observed), np.mean(predicted))
    # most of RISE's error is shared by every pixel: the per-pixel variance alone would predict far less
    assert np.mean(observed) - np.mean(naive) > 0.05


def test_centred_noise_of_a_shared_error_is_only_its_own_part() -> None:
    m, own, shared = 5, 0.3, 2.0
    covariance = own * torch.eye(m, dtype=torch.float64) + shared * torch.ones(m, m, dtype=torch.float64)
    assert centred_noise(covariance) == pytest.approx(own * (1 - 1 / m))
    estimate = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)  # variance 2
    assert correlation_shortfall(estimate, 0.5) == pytest.approx(1 - (1 - 0.5 / 2) ** 0.5)
    assert correlation_shortfall(estimate, 0.0) == 0.0 and correlation_shortfall(estimate, 3.0) == 1.0


@pytest.mark.parametrize("attributor", ["rise", {"name": "rise", "control": "linear"}])
def test_predicted_rank_correlation_matches_the_rank_correlation_with_the_true_map(attributor: object) -> None:
    truth = pixel_truth(Grid(cells=CELLS, edges="bilinear", shift=True).segment(torch.zeros(3, SIZE, SIZE),
                                                                                torch.Generator()))
    observed, predicted = [], []
    for seed in range(60):
        accumulator = accumulate(attributor, "bernoulli", 160, seed, chunk=160)
        saliency = accumulator.result().pixels.double()
        observed.append(stats.spearmanr(saliency.flatten(), truth.flatten()).statistic)
        predicted.append(1 - accumulator.error("rank"))
    assert abs(np.mean(observed) - np.mean(predicted)) < 0.01, (np.mean(observed), np.mean(predicted))


# 12 superpixels of unequal areas on a 12x8 image, and a model with interactions, so KernelSHAP is not exact
ROWS, COLS = [0, 2, 5, 7, 12], [0, 3, 4, 8]
COEF = torch.tensor([0.8, -0.5, 0.3, 1.2, 0.1, -0.2, 0.6, 0.0, -0.9, 0.4, -0.7, 0.25], dtype=torch.float64)
TERMS = [((0, 1), 0.9), ((2, 3, 4), -1.5), ((4, 5), 0.7), ((6, 7, 8, 9), 1.2)]


def shapley_model(z: torch.Tensor) -> torch.Tensor:
    y = 0.3 + z.double() @ COEF
    for members, k in TERMS:
        y = y + k * z[:, list(members)].double().prod(1)
    return y


@pytest.mark.parametrize("sampler", ["kernelshap", "leverage_shap"])
def test_kernelshap_predicted_rank_correlation_matches_the_true_maps(sampler: str) -> None:
    labels = torch.zeros(12, 8, dtype=torch.long)
    for i in range(4):
        for j in range(3):
            labels[ROWS[i] : ROWS[i + 1], COLS[j] : COLS[j + 1]] = 3 * i + j
    segmentation = Segmentation.from_labels(labels)
    shapley = COEF.clone()
    for members, k in TERMS:  # each product term splits its coefficient equally among its members
        shapley[list(members)] += k / len(members)
    truth = shapley[labels]
    observed, predicted = [], []
    for seed in range(100):
        coalitions = px.build("sampler", {"name": sampler, "exhaustive": False}).sample(
            128, 12, torch.Generator().manual_seed(seed))
        accumulator = px.build("attributor", "kernelshap").start(segmentation, coalitions,
                                                                 shapley_model(torch.ones(1, 12))[0])
        index = torch.arange(len(coalitions))
        accumulator.update(coalitions.z, segmentation.keep_masks(coalitions.z, index),
                           shapley_model(coalitions.z).float())
        saliency = accumulator.result().pixels.double()
        observed.append(stats.spearmanr(saliency.flatten(), truth.flatten()).statistic)
        predicted.append(1 - accumulator.error("rank"))
    assert abs(np.mean(observed) - np.mean(predicted)) < 0.01, (np.mean(observed), np.mean(predicted))


def test_ranks_and_spearman_match_scipy_with_ties() -> None:
    a = torch.tensor([3.0, 1.0, 3.0, 2.0, 1.0, 3.0, 0.5])
    b = torch.tensor([0.2, 0.1, 0.4, 0.4, 0.0, 0.9, 0.3])
    assert average_ranks(a).tolist() == stats.rankdata(a.numpy()).tolist()
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a.numpy(), b.numpy()).statistic, abs=1e-12)


def test_covariance_draws_have_the_covariance_even_when_singular() -> None:
    root = torch.tensor([[1.0, 0.0], [0.5, 0.2], [-1.0, 0.3]], dtype=torch.float64)  # rank 2 in 3 dimensions
    covariance = root @ root.T
    draws = covariance_draws(covariance, count=40000)
    torch.testing.assert_close(draws.T.cov(), covariance, atol=0.03, rtol=0.03)
    assert torch.equal(covariance_draws(covariance), covariance_draws(covariance))  # seeded: the same at every check
    assert covariance_draws(torch.full((3, 3), float("nan"))).isnan().all()


@pytest.mark.parametrize("s", [0.1, 0.2])
def test_rank_shortfall_of_gaussian_maps_follows_the_bivariate_normal_law(s: float) -> None:
    # truth ~ N(0, 1) per entry, estimate = truth + N(0, s²): Spearman = (6/π)·asin(r/2), r = 1/sqrt(1 + s²)
    generator = torch.Generator().manual_seed(0)
    truth = torch.randn(20000, generator=generator, dtype=torch.float64)
    estimate = truth + s * torch.randn(20000, generator=generator, dtype=torch.float64)
    draws = s * torch.randn(8, 20000, generator=generator, dtype=torch.float64)
    expected = 1 - 6 / np.pi * np.arcsin(1 / np.sqrt(1 + s * s) / 2)
    assert rank_shortfall(estimate, draws) == pytest.approx(expected, rel=0.1)


def test_rank_shortfall_falls_slower_where_the_map_is_flat() -> None:
    # half the entries share one value: their ranks are pure noise at any size, so quartering the noise (4x the
    # samples) must cut the shortfall by far less than 4x, unlike on a map of widely spread values
    generator = torch.Generator().manual_seed(1)
    spread = torch.randn(20000, generator=generator, dtype=torch.float64)
    flat = torch.cat([spread[:10000], torch.zeros(10000, dtype=torch.float64)])
    draws = torch.randn(8, 20000, generator=generator, dtype=torch.float64)
    for truth, lowest, highest in ((spread, 3.5, 4.5), (flat, 1.0, 2.5)):
        noisy = rank_shortfall(truth + 0.1 * draws[0], 0.1 * draws[1:])
        quiet = rank_shortfall(truth + 0.05 * draws[0], 0.05 * draws[1:])
        assert lowest < noisy / quiet < highest, (noisy, quiet)


def test_rank_shortfall_edge_cases() -> None:
    estimate = torch.linspace(0, 1, 100, dtype=torch.float64)
    draws = 0.01 * torch.randn(8, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert rank_shortfall(estimate, draws * 0) == 0.0 and rank_shortfall(estimate, draws * 1e4) == 1.0
    assert np.isnan(rank_shortfall(estimate, draws[:2])) and np.isnan(rank_shortfall(estimate, draws * np.nan))


class PixelNoise(Accumulator):
    """An accumulator that knows only per-pixel standard errors (the contract's fallback)."""

    def __init__(self, stderr: float) -> None:
        self.stderr = stderr

    def result(self) -> Attribution:
        pixels = torch.linspace(0, 1, 400).view(20, 20)
        return Attribution(None, pixels, pixels_stderr=torch.full((20, 20), self.stderr))


def test_fallback_rank_measure_from_independent_pixel_errors() -> None:
    shortfalls = [PixelNoise(s).error("rank") for s in (0.0, 0.01, 0.05)]
    assert shortfalls[0] == 0.0 < shortfalls[1] < shortfalls[2] < 1.0
    # uniform map of variance 1/12 with independent N(0, 0.05²) errors: Pearson r = sqrt(v / (v + s²))
    r = np.sqrt(1 / 12 / (1 / 12 + 0.05**2))
    assert 1 - shortfalls[2] == pytest.approx(r, abs=0.01)
