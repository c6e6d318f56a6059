"""Samplers: designs, sizes, seeds and the distributions they promise."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.samplers.kernelshap import shapley_kernel


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


SPECS = [
    "bernoulli",
    {"name": "bernoulli", "include_original": True},
    {"name": "random_p", "distribution": "uniform"},
    {"name": "random_p", "distribution": "normal"},
    {"name": "random_p", "distribution": "beta"},
    "single",
    {"name": "single", "inverse": True, "include_all": True, "include_none": True},
    "exhaustive",
    "kernelshap",
    {"name": "kernelshap", "paired": False},
    "lime",
    "permutation",
    {"name": "permutation", "antithetic": False},
    "sobol",
    {"name": "sobol", "binary": True},
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize(("n", "m"), [(7, 1), (40, 5), (100, 9)])
def test_size_shape_range_and_seed(spec: object, n: int, m: int) -> None:
    sampler = px.build("sampler", spec)
    first = sampler.sample(n, m, gen(3))
    assert first.z.shape == (sampler.size(n, m), m)
    assert first.z.dtype == torch.float32
    assert ((first.z >= 0) & (first.z <= 1)).all()
    assert torch.equal(first.z, sampler.sample(n, m, gen(3)).z)
    if first.weights is not None:
        assert first.weights.shape == (len(first),)


@pytest.mark.parametrize("distribution", ["uniform", "normal", "beta"])
def test_random_p_laws(distribution: str) -> None:
    sampler = px.build("sampler", {"name": "random_p", "distribution": distribution})
    p = sampler.probabilities(20000, gen()).double().numpy()
    normal = stats.truncnorm(-0.5, 0.5, loc=0.5, scale=1.0)
    law = {"uniform": stats.uniform(0, 1), "normal": normal, "beta": stats.beta(1.5, 1.5)}[distribution]
    assert stats.kstest(p, law.cdf).statistic < 0.015
    z = sampler.sample(20000, 40, gen()).z
    # each row is Bernoulli(p_row): the row means follow the drawn probabilities
    assert stats.kstest(z.mean(1).double().numpy(), law.cdf).statistic < 0.08


def test_random_p_differs_from_fixed_p() -> None:
    z = px.build("sampler", {"name": "random_p", "distribution": "uniform"}).sample(4000, 30, gen()).z
    assert z.mean(1).std() > 0.25  # a fixed p=0.5 gives std ≈ 0.09


def test_single_rows() -> None:
    z = px.build("sampler", "single").sample(999, 4, gen()).z
    assert torch.equal(z, 1 - torch.eye(4))
    z = px.build("sampler", {"name": "single", "inverse": True, "include_all": True, "include_none": True}).sample(
        1, 3, gen()).z
    assert torch.equal(z, torch.cat([torch.ones(1, 3), torch.zeros(1, 3), torch.eye(3)]))


def test_exhaustive_lists_every_coalition_once() -> None:
    z = px.build("sampler", "exhaustive").sample(1, 5, gen()).z
    assert len(z) == 32 and len(torch.unique(z, dim=0)) == 32
    assert z[0].sum() == 0 and z[-1].sum() == 5
    with pytest.raises(PerturbxError, match="max_features"):
        px.build("sampler", {"name": "exhaustive", "max_features": 4}).sample(1, 5, gen())


def test_shapley_kernel_values() -> None:
    m = 5
    sizes = torch.arange(m + 1)
    expected = [0.0] + [(m - 1) / (math.comb(m, s) * s * (m - s)) for s in range(1, m)] + [0.0]
    assert torch.allclose(shapley_kernel(sizes, m), torch.tensor(expected, dtype=torch.float64))


def test_kernelshap_enumerates_when_small() -> None:
    c = px.build("sampler", "kernelshap").sample(64, 5, gen())
    assert len(c) == 32 and len(torch.unique(c.z, dim=0)) == 32
    assert torch.allclose(c.weights.double(), shapley_kernel(c.z.sum(1), 5), rtol=1e-6)


def test_kernelshap_sampled_design() -> None:
    m, n = 16, 20001
    c = px.build("sampler", "kernelshap").sample(n, m, gen())
    assert len(c) == n and c.z[0].sum() == 0 and c.weights[0] == 0 and (c.weights[1:] == 1).all()
    pairs = c.z[1:].view(-1, 2, m)
    assert torch.equal(pairs[:, 0], 1 - pairs[:, 1])
    sizes = c.z[1:].sum(1).long()
    assert sizes.min() >= 1 and sizes.max() <= m - 1
    counts = torch.bincount(sizes, minlength=m)[1:m].double()
    expected = torch.tensor([1 / (s * (m - s)) for s in range(1, m)], dtype=torch.float64)
    assert torch.allclose(counts / counts.sum(), expected / expected.sum(), atol=0.01)
    # within a size every feature is equally likely
    assert (c.z[1:].mean(0) - 0.5).abs().max() < 0.02


def test_lime_sampler_removes_a_uniform_number() -> None:
    m = 6
    z = px.build("sampler", "lime").sample(30000, m, gen()).z
    assert (z[0] == 1).all()
    removed = (m - z[1:].sum(1)).long()
    counts = torch.bincount(removed, minlength=m + 1).double()
    assert counts[0] == 0
    assert torch.allclose(counts[1:] / counts[1:].sum(), torch.full((m,), 1 / m, dtype=torch.float64), atol=0.01)


def test_bernoulli_include_original_keeps_row_zero_only() -> None:
    plain = px.build("sampler", {"name": "bernoulli", "p": 0.3}).sample(20000, 5, gen())
    lime = px.build("sampler", {"name": "bernoulli", "p": 0.3, "include_original": True}).sample(20000, 5, gen())
    assert (lime.z[0] == 1).all() and torch.equal(lime.z[1:], plain.z[1:])
    assert (lime.z[1:].mean(0) - 0.3).abs().max() < 0.02
    assert plain.keep_rate == 0.3 and lime.keep_rate is None  # no longer i.i.d. rows: no exact moments


def test_permutation_chains() -> None:
    m = 4
    sampler = px.build("sampler", "permutation")
    z = sampler.sample(25, m, gen()).z
    blocks = z.view(-1, m + 1, m)
    assert len(blocks) == 6  # 25 // 5 = 5, rounded up to pairs
    assert (blocks[:, 0] == 0).all() and (blocks[:, -1] == 1).all()
    steps = blocks.diff(dim=1)
    assert ((steps == 0) | (steps == 1)).all() and (steps.sum(-1) == 1).all()
    order = steps.argmax(-1)
    assert torch.equal(order[1::2], order[0::2].flip(1))  # antithetic pairs
    assert len(torch.unique(order, dim=0)) > 1


def test_sobol_design_structure() -> None:
    m = 3
    sampler = px.build("sampler", "sobol")
    z = sampler.sample(50, m, gen()).z
    n = 50 // (m + 2)
    assert z.shape == (n * (m + 2), m)
    blocks = z.view(n, m + 2, m)  # one block [a; b; ab_1..ab_M] per design point
    a, b = blocks[:, 0], blocks[:, 1]
    for i in range(m):
        expected = a.clone()
        expected[:, i] = b[:, i]
        assert torch.equal(blocks[:, 2 + i], expected)
    points = torch.cat([a, b], 1)
    assert len(torch.unique(points, dim=0)) == n
    other = sampler.sample(50, m, gen(1)).z
    assert not torch.equal(z, other)  # the scramble seed comes from the generator
    binary = px.build("sampler", {"name": "sobol", "binary": True}).sample(50, m, gen()).z
    assert torch.equal(binary, (z >= 0.5).float())
