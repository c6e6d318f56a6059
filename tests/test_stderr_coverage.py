"""Honest error bars: over hundreds of seeds, nominal 95% intervals ``estimate ± 1.96·stderr`` cover the known
answer 93–97% of the time, for every sampled attributor; fixed designs have stderr exactly 0.

The model is evaluated on the coalitions directly (``y = f(z)``: a hard-masked segment model with a black fill
reduces to this), so hundreds of seeds take a fraction of a second each; the pipeline plumbing of the same
accumulators is tested in test_anytime.py."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
import torch

import perturbx as px
from perturbx.segmenters.segmentation import Segmentation

M = 6
LABELS = torch.arange(M).view(2, 3).repeat_interleave(2, 0).repeat_interleave(2, 1)  # 4x6 image, 2x2-pixel cells
C = torch.tensor([0.8, -0.5, 0.3, 1.2, 0.1, -0.2], dtype=torch.float64)
TERMS = [((0, 1), 0.9), ((2, 3, 4), -1.5), ((4, 5), 0.7)]  # interactions, so that no estimate is exact
BIAS = 0.3
SEEDS = 400
pytestmark = pytest.mark.usefixtures("one_thread")


def model(z: torch.Tensor) -> torch.Tensor:
    """``y = b + Σ c_j z_j + Σ_S k_S Π_{j∈S} z_j`` on coalitions (or amplitudes) ``z [N,M]``."""
    z = z.double()
    y = BIAS + z @ C
    for members, k in TERMS:
        y = y + k * z[:, list(members)].prod(1)
    return y


def shapley_truth() -> torch.Tensor:
    """Each product term splits its coefficient equally among its members (baseline: all removed)."""
    phi = C.clone()
    for members, k in TERMS:
        phi[list(members)] += k / len(members)
    return phi


def kept_mean_truth(p: float = 0.5) -> torch.Tensor:
    """``E[y | z_j = 1]`` under independent Bernoulli(p) features: RISE's estimand (both normalisations)."""
    out = torch.empty(M, dtype=torch.float64)
    for j in range(M):
        mean = torch.full((M,), p, dtype=torch.float64)
        mean[j] = 1.0
        out[j] = BIAS + mean @ C + sum(k * math.prod(float(mean[i]) for i in members) for members, k in TERMS)
    return out


def removed_mean_truth(p: float = 0.5) -> torch.Tensor:
    """PDA's estimand ``y(all kept) − E[y | z_j = 0]`` under Bernoulli(p)."""
    full = float(model(torch.ones(1, M))[0])
    out = torch.empty(M, dtype=torch.float64)
    for j in range(M):
        mean = torch.full((M,), p, dtype=torch.float64)
        mean[j] = 0.0
        out[j] = full - (BIAS + mean @ C + sum(k * math.prod(float(mean[i]) for i in members) for members, k in TERMS))
    return out


def lime_truth() -> torch.Tensor:
    """LIME's population coefficients: the kernel-weighted least-squares fit over all 2^M coalitions, each with
    its Bernoulli(0.5) probability (uniform)."""
    z = torch.tensor(list(itertools.product([0.0, 1.0], repeat=M)), dtype=torch.float64)
    w = px.build("attributor", "lime").weights(z)
    design = torch.cat([torch.ones(len(z), 1, dtype=torch.float64), z], 1)
    coef = torch.linalg.solve(design.T @ (w[:, None] * design), design.T @ (w * model(z)))
    return coef[1:]


def sobol_truth(order: str) -> torch.Tensor:
    """Sobol indices of ``model`` in independent U(0,1) amplitudes, by exact Gauss-Legendre quadrature (the
    model is multilinear, so 2 nodes per axis are exact for its square)."""
    nodes = torch.tensor([0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3)], dtype=torch.float64)
    grid = torch.cartesian_prod(*[nodes] * M)  # equal weights 1/2^M
    f = model(grid)
    variance = f.var(unbiased=False)
    out = torch.empty(M, dtype=torch.float64)
    for i in range(M):
        if order == "first":  # Var(E[f | a_i]) / Var f
            conditional = f.view(*[2] * M).movedim(i, 0).reshape(2, -1).mean(1)
            out[i] = conditional.var(unbiased=False) / variance
        else:  # E[Var(f | a_~i)] / Var f
            out[i] = f.view(*[2] * M).movedim(i, -1).reshape(-1, 2).var(1, unbiased=False).mean() / variance
    return out


def run(attributor: object, sampler: object, n: int, seed: int) -> px.attributors.base.Attribution:
    segmentation = Segmentation.from_labels(LABELS)
    coalitions = px.build("sampler", sampler).sample(n, M, torch.Generator().manual_seed(seed))
    attributor = px.build("attributor", attributor)
    attributor.check(coalitions, segmentation)
    accumulator = attributor.start(segmentation, coalitions, model(torch.ones(1, M))[0])
    z, y = coalitions.z, model(coalitions.z)
    for start in range(0, len(z), 100):  # chunks that cut pairs and design points apart
        index = torch.arange(start, min(start + 100, len(z)))
        accumulator.update(z[index], segmentation.keep_masks(z[index], index), y[index].float())
    return accumulator.result()


def trials(attributor: object, sampler: object, truth: torch.Tensor, n: int) -> tuple[float, torch.Tensor]:
    """Over ``SEEDS`` seeds: the share of the 95% intervals that hold the truth, and the z-score of the mean
    error per feature (unbiased estimators keep it within a few units). A feature whose stderr is 0 under
    every seed must be exact and is not counted (antithetic permutations cancel pairwise interactions)."""
    errors, stderrs = [], []
    for seed in range(SEEDS):
        result = run(attributor, sampler, n, seed)
        stderrs.append(result.features_stderr.double())
        errors.append(result.features.double() - truth)
    error, stderr = torch.stack(errors), torch.stack(stderrs)
    assert torch.isfinite(stderr).all()
    exact = (stderr < 1e-6).all(0)  # zero up to float32 rounding, whatever the seed
    assert (error[:, exact].abs() < 1e-5).all()
    error, stderr = error[:, ~exact], stderr[:, ~exact]
    bias_z = error.mean(0) / (error.std(0) / SEEDS**0.5)
    return float((error.abs() <= 1.96 * stderr).double().mean()), bias_z


CASES: list[tuple[str, object, object, Callable[[], torch.Tensor], int]] = [
    ("rise", "rise", "bernoulli", kept_mean_truth, 600),
    ("rise expected", {"name": "rise", "normalize": "expected"}, "bernoulli", kept_mean_truth, 600),
    ("rise feature", {"name": "rise", "level": "feature"}, "bernoulli", kept_mean_truth, 600),
    ("rise antithetic", "rise", "antithetic", kept_mean_truth, 600),
    # blocks of 32 scrambled points: a 64-point net would integrate this 6-feature model exactly
    ("rise qmc", "rise", {"name": "qmc", "block": 32}, kept_mean_truth, 600),
    ("rise control", {"name": "rise", "control": "linear"}, "bernoulli", kept_mean_truth, 600),
    (
        "rise control feature",
        {"name": "rise", "control": "linear", "level": "feature"},
        "antithetic",
        kept_mean_truth,
        600,
    ),
    ("pda", "pda", "bernoulli", removed_mean_truth, 400),
    ("shapley_sampling", "shapley_sampling", "permutation", shapley_truth, 7 * 60),
    ("kernelshap", "kernelshap", {"name": "kernelshap", "exhaustive": False}, shapley_truth, 600),
    (
        "kernelshap unpaired",
        "kernelshap",
        {"name": "kernelshap", "exhaustive": False, "paired": False},
        shapley_truth,
        600,
    ),
    ("leverage_shap", "kernelshap", {"name": "leverage_shap", "exhaustive": False}, shapley_truth, 600),
    (
        "leverage_shap adjusted",
        {"name": "kernelshap", "adjust": "logistic"},
        {"name": "leverage_shap", "exhaustive": False},
        shapley_truth,
        600,
    ),
    ("lime", {"name": "lime", "alpha": 0.0}, "bernoulli", lime_truth, 400),
    # the squared differences of Jansen's estimator are skewed: its normal interval needs a few hundred points
    ("sobol total", "sobol", {"name": "sobol", "qmc": False}, lambda: sobol_truth("total"), 8 * 400),
    (
        "sobol first",
        {"name": "sobol", "order": "first"},
        {"name": "sobol", "qmc": False},
        lambda: sobol_truth("first"),
        8 * 400,
    ),
]


@pytest.mark.parametrize(("label", "attributor", "sampler", "truth", "n"), CASES, ids=[c[0] for c in CASES])
def test_95_percent_intervals_cover_the_truth(
    label: str, attributor: object, sampler: object, truth: Callable[[], torch.Tensor], n: int
) -> None:
    rate, bias_z = trials(attributor, sampler, truth(), n)
    assert 0.93 <= rate <= 0.97, f"{label}: {rate:.3f}"
    assert bias_z.abs().max() < 4, f"{label}: mean error {bias_z} standard errors of the mean from 0"


def test_scrambled_saltelli_design_is_unbiased_and_its_intervals_conservative() -> None:
    """One scrambled sequence for the whole design: its points are not independent, so rows-as-draws overstates."""
    rate, bias_z = trials("sobol", "sobol", sobol_truth("total"), 8 * 400)
    assert rate >= 0.95
    assert bias_z.abs().max() < 4


def test_fixed_designs_have_zero_stderr() -> None:
    for attributor, sampler in [
        ("kernelshap", "exhaustive"),
        ("kernelshap", "kernelshap"),
        ("rise", "exhaustive"),
        ("occlusion", "single"),
        ("pda", "exhaustive"),
    ]:
        result = run(attributor, sampler, 64, 0)  # kernelshap enumerates its 2^6 = 64 coalitions
        assert torch.equal(result.features_stderr, torch.zeros(M)), (attributor, sampler)
        assert torch.equal(result.pixels_stderr, torch.zeros(LABELS.shape)), (attributor, sampler)
    exact = run("kernelshap", "exhaustive", 64, 0).features.double()
    assert torch.allclose(exact, shapley_truth(), atol=1e-5)
