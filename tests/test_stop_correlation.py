"""The stopping rule's ``measure: correlation``: the expected correlation of a map with its converged value,
checked against the true map of a known-answer model, and its covariance form checked exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_rise_control import CELLS, SIZE, accumulate, pixel_truth

from perturbx.attributors.uncertainty import centred_noise, correlation_shortfall
from perturbx.segmenters.grid import Grid

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
