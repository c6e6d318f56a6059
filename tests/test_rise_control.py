"""RISE's regression control variate: its design moments are exact, it estimates the same map without bias,
its error bars stay honest, it removes the noise of a score linear in the regions, and it is refused on
designs whose moments it cannot know."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import CountingModel, RegionModel, grid_rise

import perturbx as px
from perturbx.attributors.control import RegionControl, refit_rows
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.grid import Grid
from perturbx.segmenters.segmentation import Segmentation, shifted_cells

CONTROL = {"name": "rise", "control": "linear"}
pytestmark = pytest.mark.usefixtures("one_thread")


def brute_moments(segmentation: Segmentation, control: RegionControl, p: float) -> tuple[torch.Tensor, ...]:
    """``E[m]``, ``E[(g − ḡ)·m]`` and ``E[(g − ḡ)·z]`` by enumerating every coalition and every grid offset."""
    m_features = segmentation.n_features
    z = torch.tensor(list(itertools.product([0.0, 1.0], repeat=m_features)), dtype=torch.float64)
    prob = p ** z.sum(1) * (1 - p) ** (m_features - z.sum(1))
    if hasattr(segmentation, "cell"):
        offsets = list(itertools.product(range(segmentation.cell[0]), range(segmentation.cell[1])))
    else:
        offsets = [None]
    mean = cross_m = cross_z = 0.0
    for offset in offsets:
        if offset is None:
            keep = segmentation.keep_masks(z.float(), torch.arange(len(z))).double()
        else:
            at = torch.tensor([offset]).expand(len(z), 2)
            keep = shifted_cells(z, segmentation.cells, segmentation.cell, segmentation.mode, at, segmentation.shape)
        keep = keep.reshape(len(z), -1)
        g = keep @ control.average.T.cpu()
        mean = mean + prob @ keep / len(offsets)
        cross_m = cross_m + torch.einsum("n,nk,nx->kx", prob, g, keep) / len(offsets)
        cross_z = cross_z + torch.einsum("n,nk,nc->kc", prob, g, z) / len(offsets)
    region_mean = control.average.cpu() @ mean
    return mean, cross_m - region_mean[:, None] * mean, cross_z - region_mean[:, None] * p


@pytest.mark.parametrize(
    "segmentation",
    [
        Grid(cells=3, edges="bilinear", shift=True).segment(torch.zeros(3, 10, 11), torch.Generator()),
        Grid(cells=3, edges="hard", shift=True).segment(torch.zeros(3, 9, 7), torch.Generator()),
        Segmentation.from_labels(torch.arange(6).view(2, 3).repeat_interleave(3, 0).repeat_interleave(2, 1)),
        Segmentation.from_labels(torch.arange(6).view(2, 3).repeat_interleave(3, 0).repeat_interleave(2, 1), 1.0),
    ],
    ids=["shifted bilinear", "shifted hard", "hard labels", "gaussian edges"],
)
def test_design_moments_are_exact(segmentation: Segmentation) -> None:
    p = 0.3
    control = RegionControl(segmentation, p, torch.device("cpu"))
    mean, pixel_cov, feature_cov = brute_moments(segmentation, control, p)
    torch.testing.assert_close(control.mean, mean, atol=1e-7, rtol=0)
    torch.testing.assert_close(control.pixel_cov, pixel_cov, atol=1e-7, rtol=0)
    torch.testing.assert_close(control.feature_cov, feature_cov, atol=1e-7, rtol=0)


def test_refits_fall_on_group_starts_at_each_doubling() -> None:
    assert refit_rows(torch.arange(300)) == [64, 128, 256]
    assert refit_rows(torch.arange(300) // 3) == [66, 129, 258]  # 64 cuts a triple: wait for its end


# A 3x3 shifted bilinear grid on a 9x9 image; the score depends on the coalition with interactions, so
# nothing is linear in the regions and the truth is E[y·m(x)] / E[m(x)] = Σ_c W_c(x)·E[y | z_c = 1] / Σ_c W_c(x).
CELLS, SIZE, P = 3, 9, 0.5
COEF = torch.tensor([0.8, -0.5, 0.3, 1.2, 0.1, -0.2, 0.6, 0.0, -0.9], dtype=torch.float64)
PAIRS = [((0, 4), 1.1), ((2, 5, 8), -1.4), ((6, 7), 0.7)]


def score(z: torch.Tensor) -> torch.Tensor:
    z = z.double()
    y = 0.3 + z @ COEF
    for members, k in PAIRS:
        y = y + k * z[:, list(members)].prod(1)
    return y


def pixel_truth(segmentation: Segmentation) -> torch.Tensor:
    kept = torch.empty(CELLS * CELLS, dtype=torch.float64)
    for c in range(CELLS * CELLS):
        mean = torch.full((1, CELLS * CELLS), P, dtype=torch.float64)
        mean[0, c] = 1.0
        kept[c] = 0.3 + float(mean[0] @ COEF) + sum(k * float(mean[0, list(m)].prod()) for m, k in PAIRS)
    offsets = list(itertools.product(range(segmentation.cell[0]), range(segmentation.cell[1])))
    eye = torch.eye(CELLS * CELLS, dtype=torch.float64)
    weights = sum(
        shifted_cells(eye, CELLS, segmentation.cell, "bilinear", torch.tensor([o]).expand(len(eye), 2), (SIZE, SIZE))
        for o in offsets
    ) / len(offsets)
    return torch.einsum("chw,c->hw", weights, kept) / weights.sum(0)


def accumulate(
    attributor: object, sampler: object, n: int, seed: int, chunk: int = 100
) -> px.attributors.base.Accumulator:
    """RISE of ``score`` on the 3x3 shifted bilinear grid, fed in chunks of ``chunk`` rows."""
    segmentation = Grid(cells=CELLS, edges="bilinear", shift=True).segment(
        torch.zeros(3, SIZE, SIZE), torch.Generator().manual_seed(seed)
    )
    coalitions = px.build("sampler", sampler).sample(n, CELLS * CELLS, torch.Generator().manual_seed(seed))
    rise = px.build("attributor", attributor)
    rise.check(coalitions, segmentation)
    accumulator = rise.start(segmentation, coalitions, torch.tensor(0.0))
    y = score(coalitions.z)
    for start in range(0, n, chunk):
        index = torch.arange(start, min(start + chunk, n))
        z = coalitions.z[index]
        accumulator.update(z, segmentation.keep_masks(z, index), y[index].float())
    return accumulator


def run(attributor: object, sampler: object, n: int, seed: int, chunk: int = 100) -> px.attributors.base.Attribution:
    return accumulate(attributor, sampler, n, seed, chunk).result()


@pytest.mark.parametrize("sampler", ["bernoulli", "antithetic", {"name": "qmc", "block": 32}])
@pytest.mark.parametrize("normalize", ["coverage", "expected"])
def test_pixel_map_is_unbiased_and_its_intervals_cover_95_percent(sampler: object, normalize: str) -> None:
    grid = Grid(cells=CELLS, edges="bilinear", shift=True)
    truth = pixel_truth(grid.segment(torch.zeros(3, SIZE, SIZE), torch.Generator()))
    errors, stderrs = [], []
    for seed in range(400):  # 250 seeds still move the rate by ±1.5% (plain RISE: 93.9% on 0-249, 96.1% on 250-499)
        result = run({**CONTROL, "normalize": normalize}, sampler, 600, seed)
        errors.append(result.pixels.double() - truth)
        stderrs.append(result.pixels_stderr.double())
    error, stderr = torch.stack(errors), torch.stack(stderrs)
    rate = float((error.abs() <= 1.96 * stderr).double().mean())
    assert 0.93 <= rate <= 0.97, rate
    bias_z = error.mean(0) / (error.std(0) / len(error) ** 0.5)
    assert bias_z.abs().max() < 4.5  # 81 correlated pixels: the largest of them


def test_same_map_whatever_the_chunks() -> None:
    a = run(CONTROL, "antithetic", 500, 3, chunk=500)
    b = run(CONTROL, "antithetic", 500, 3, chunk=7)  # cuts pairs and refit rows apart
    torch.testing.assert_close(a.pixels, b.pixels, atol=1e-6, rtol=0)
    torch.testing.assert_close(a.pixels_stderr, b.pixels_stderr, atol=1e-6, rtol=0)


def test_a_score_linear_in_the_regions_leaves_almost_no_noise(images: torch.Tensor) -> None:
    """The region model's score is the mean of a region made of whole cells: exactly linear in the coverage."""
    rows, cols = slice(8, 16), slice(16, 24)
    adapter = px.ModelAdapter(RegionModel(rows, cols), output="logit")
    plain = grid_rise(n_samples=1000, seed=2).explain(adapter, images[:1], target=0)
    control = grid_rise(n_samples=1000, seed=2, attributor=CONTROL).explain(adapter, images[:1], target=0)
    # the same estimand: inside the region every kept sample scores exactly the region's mean (plain RISE is
    # exact there; the control's ridge-shrunk slope leaves a trace of noise)
    region_mean = images[0, 0, rows, cols].mean()
    torch.testing.assert_close(control.maps[0, 0, rows, cols], region_mean.expand(8, 8), atol=0.01, rtol=0)
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[rows, cols] = False
    # outside, only the first 64 of 1,000 rows carry their noise (sqrt(64/1000) = 0.25) and the ridge a little
    assert float(control.stderr[0, 0][outside].max()) < 0.35 * float(plain.stderr[0, 0][outside].max())
    assert float((control.maps - 0.5 * region_mean)[0, 0][outside].abs().max()) < 0.3 * float(
        (plain.maps - 0.5 * region_mean)[0, 0][outside].abs().max()
    )


@pytest.mark.parametrize("sampler", [{"name": "random_p"}, "exhaustive", {"name": "kernelshap", "exhaustive": False}])
def test_refused_before_any_query_on_designs_without_known_moments(images: torch.Tensor, sampler: object) -> None:
    model = CountingModel(RegionModel(slice(0, 8), slice(0, 8)))
    pipeline = grid_rise(n_samples=64, sampler=sampler, attributor=CONTROL)
    with pytest.raises(px.PerturbxError, match="control='linear'"):
        pipeline.explain(px.ModelAdapter(model, output="logit"), images[:1], target=0)
    assert model.batches == []


def test_refused_on_coalitions_without_a_keep_rate() -> None:
    segmentation = Segmentation.from_labels(torch.arange(4).view(2, 2))
    with pytest.raises(px.PerturbxError, match="control='linear'"):
        px.build("attributor", CONTROL).check(Coalitions(torch.ones(3, 4)), segmentation)


def test_refused_when_its_moments_would_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from perturbx.attributors import control

    monkeypatch.setattr(control, "MAX_ENTRIES", 100)
    segmentation = Segmentation.from_labels(torch.arange(16).view(4, 4).repeat_interleave(4, 0).repeat_interleave(4, 1))
    with pytest.raises(px.PerturbxError, match="regions × pixels = 16×256"):
        px.build("attributor", CONTROL).check(Coalitions(torch.ones(3, 16), keep_rate=0.5), segmentation)
