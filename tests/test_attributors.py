"""Attributors against known answers: additive and linear models, one-hot models, brute-force Shapley values."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import CountingModel
from torch import nn

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.samplers.base import Coalitions
from perturbx.seeding import stream

SIZE, CELLS = 16, 2  # 2x2 grid of 8x8 cells: M = 4


def grid_labels(cells: int = CELLS, size: int = SIZE) -> torch.Tensor:
    index = torch.arange(size) * cells // size
    return index[:, None] * cells + index[None, :]


class SegmentModel(nn.Module):
    """``y = b + Σ_j c_j·s_j + k·s_0·s_1`` with ``s_j`` the mean of channel 0 over grid cell j; outputs
    ``[y, −y]``. With a black fill and hard cells, removing cell j sets ``s_j`` to 0, so for ``k = 0``
    feature j contributes exactly ``c_j·s_j(x)``."""

    def __init__(self, c: list[float], bias: float = 0.3, interaction: float = 0.0, cells: int = CELLS) -> None:
        super().__init__()
        onehot = F.one_hot(grid_labels(cells)).permute(2, 0, 1).float()
        self.register_buffer("cells", onehot / onehot.sum((1, 2), keepdim=True))
        self.register_buffer("c", torch.tensor(c))
        self.bias, self.interaction = bias, interaction

    def means(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bhw,mhw->bm", x[:, 0], self.cells)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.means(x)
        y = self.bias + s @ self.c + self.interaction * s[:, 0] * s[:, 1]
        return torch.stack([y, -y], 1)


C = [0.8, -0.5, 0.3, 1.2]


@pytest.fixture
def image() -> torch.Tensor:
    return 0.2 + 0.8 * torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(4))


def explain(model: nn.Module, x: torch.Tensor, sampler: object, attributor: object, n: int = 64,
            segmenter: object = None, seed: int = 0, batch: int = 16) -> px.Explanation:
    pipe = px.Pipeline(segmenter=segmenter or {"name": "grid", "cells": CELLS}, sampler=sampler,
                       substrate={"name": "constant", "color": "black"}, attributor=attributor,
                       n_samples=n, seed=seed)
    return pipe.explain(px.ModelAdapter(model, output="logit"), x, target=0, batch_size=batch, progress=False)


def value(model: SegmentModel, x: torch.Tensor, coalition: tuple[int, ...]) -> float:
    """The model on x with the cells outside ``coalition`` blacked out (the obvious, slow way)."""
    keep = torch.zeros(SIZE, SIZE)
    for j in coalition:
        keep[grid_labels() == j] = 1.0
    return float(model(x * keep)[0, 0])


def brute_shapley(model: SegmentModel, x: torch.Tensor, m: int = CELLS**2) -> torch.Tensor:
    """Shapley values from the definition: weighted marginal contributions over every coalition."""
    phi = torch.zeros(m, dtype=torch.float64)
    for j in range(m):
        others = [k for k in range(m) if k != j]
        for size in range(m):
            for subset in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
                phi[j] += weight * (value(model, x, (*subset, j)) - value(model, x, subset))
    return phi


def contributions(model: SegmentModel, x: torch.Tensor) -> torch.Tensor:
    return (model.c * model.means(x)[0]).double()


def test_kernelshap_exhaustive_is_exact_shapley(image: torch.Tensor) -> None:
    model = SegmentModel(C, interaction=2.0)
    exp = explain(model, image, "exhaustive", "kernelshap")
    assert torch.allclose(exp.features[0].scores.double(), brute_shapley(model, image), atol=1e-5)
    assert exp.n_queries == 1 + 16


def test_kernelshap_sampler_enumerates_small_designs(image: torch.Tensor) -> None:
    model = SegmentModel(C, interaction=2.0)
    exp = explain(model, image, "kernelshap", "kernelshap", n=16)
    assert torch.allclose(exp.features[0].scores.double(), brute_shapley(model, image), atol=1e-5)


def test_kernelshap_sampled_additive_is_exact(image: torch.Tensor) -> None:
    model = SegmentModel([0.5, -0.2, 0.9, 0.1, 0.3, -0.7, 0.4, 0.2, -0.1], cells=3)
    exp = explain(model, image, {"name": "kernelshap", "exhaustive": False}, "kernelshap", n=40,
                  segmenter={"name": "grid", "cells": 3})
    assert torch.allclose(exp.features[0].scores.double(), contributions(model, image), atol=1e-5)
    scores = exp.features[0].scores.double()
    assert math.isclose(float(scores.sum()), value(model, image, tuple(range(9))) - value(model, image, ()),
                        abs_tol=1e-5)


def test_kernelshap_efficiency_with_bernoulli_design_and_empty_row(image: torch.Tensor) -> None:
    model = SegmentModel(C, interaction=3.0)
    exp = explain(model, image, {"name": "single", "include_none": True}, "kernelshap")
    total = value(model, image, (0, 1, 2, 3)) - value(model, image, ())
    assert math.isclose(float(exp.features[0].scores.sum()), total, abs_tol=1e-5)


def test_occlusion_is_exact_on_additive(image: torch.Tensor) -> None:
    model = SegmentModel(C)
    exp = explain(model, image, "single", "occlusion")
    assert torch.allclose(exp.features[0].scores.double(), contributions(model, image), atol=1e-6)
    assert exp.n_queries == 1 + 4


def test_occlusion_is_leave_one_out_with_interactions(image: torch.Tensor) -> None:
    model = SegmentModel(C, interaction=2.0)
    exp = explain(model, image, "single", "occlusion")
    full = value(model, image, (0, 1, 2, 3))
    expected = torch.tensor([full - value(model, image, tuple(k for k in range(4) if k != j)) for j in range(4)])
    assert torch.allclose(exp.features[0].scores, expected.float(), atol=1e-6)


def test_shapley_sampling_exact_on_additive(image: torch.Tensor) -> None:
    model = SegmentModel(C)
    exp = explain(model, image, "permutation", "shapley_sampling", n=10)
    assert torch.allclose(exp.features[0].scores.double(), contributions(model, image), atol=1e-6)


def test_shapley_sampling_over_all_permutations_is_exact(image: torch.Tensor) -> None:
    model = SegmentModel(C, interaction=2.0)
    m = 4
    chains = []
    for order in itertools.permutations(range(m)):
        z = torch.zeros(m + 1, m)
        for step, j in enumerate(order):
            z[step + 1 :, j] = 1.0
        chains.append(z)
    z = torch.cat(chains)
    y = torch.tensor([value(model, image, tuple(torch.nonzero(row).flatten().tolist())) for row in z])
    seg = px.build("segmenter", {"name": "grid", "cells": CELLS}).segment(image[0], torch.Generator())
    attributor = px.build("attributor", "shapley_sampling")
    attributor.check(Coalitions(z), seg)
    acc = attributor.start(seg, Coalitions(z), torch.tensor(0.0))
    acc.update(z[:50], None, y[:50])
    acc.update(z[50:], None, y[50:])
    assert torch.allclose(acc.result().features.double(), brute_shapley(model, image), atol=1e-5)


def test_shapley_sampling_converges(image: torch.Tensor) -> None:
    model = SegmentModel(C, interaction=2.0)
    exp = explain(model, image, "permutation", "shapley_sampling", n=5 * 600, batch=1000)
    assert torch.allclose(exp.features[0].scores.double(), brute_shapley(model, image), atol=0.01)


@pytest.mark.parametrize("kernel", ["exponential", "none"])
@pytest.mark.parametrize("sampler", ["lime", "bernoulli", "random_p"])
def test_lime_recovers_linear_weights(image: torch.Tensor, kernel: str, sampler: str) -> None:
    model = SegmentModel(C)
    exp = explain(model, image, sampler, {"name": "lime", "kernel": kernel, "alpha": 0.0}, n=50)
    assert torch.allclose(exp.features[0].scores.double(), contributions(model, image), atol=1e-5)


def test_lime_ridge_matches_closed_form(image: torch.Tensor) -> None:
    model = SegmentModel(C, interaction=1.0)
    exp = explain(model, image, "lime", "lime", n=30, seed=2)
    z = px.build("sampler", "lime").sample(30, 4, stream(2, "sampler", 0)).z.double()
    y = torch.tensor([value(model, image, tuple(torch.nonzero(r).flatten().tolist())) for r in z], dtype=torch.float64)
    d = 1 - z.sum(1) / (z.norm(dim=1) * 2).clamp_min(1e-12)
    d[z.sum(1) == 0] = 1.0
    w = torch.sqrt(torch.exp(-(d**2) / 0.25**2))
    # augmented normal equations with an unpenalised intercept, alpha = 1
    a = torch.cat([torch.ones(len(z), 1, dtype=torch.float64), z], 1)
    penalty = torch.diag(torch.tensor([0.0, 1, 1, 1, 1], dtype=torch.float64))
    coef = torch.linalg.solve(a.T @ (w[:, None] * a) + penalty, a.T @ (w * y))
    assert torch.allclose(exp.features[0].scores.double(), coef[1:], atol=1e-5)


def test_rise_one_hot_peaks_on_the_segment(image: torch.Tensor) -> None:
    model = SegmentModel([0.0, 0.0, 1.0, 0.0], bias=0.0)
    exp = explain(model, image, "bernoulli", "rise", n=200)
    scores = exp.features[0].scores
    assert int(scores.argmax()) == 2
    assert torch.equal(exp.maps[0, 0] == exp.maps[0, 0].max(), grid_labels() == 2)


def test_pami_scores_keep_one(image: torch.Tensor) -> None:
    model = SegmentModel(C)
    exp = explain(model, image, {"name": "single", "inverse": True}, "pami")
    assert torch.allclose(exp.features[0].scores.double(), contributions(model, image) + 0.3, atol=1e-6)


def test_pda_forms_by_hand(image: torch.Tensor) -> None:
    model = SegmentModel([0.1, 0.2, 0.05, 0.15], bias=0.3)
    full = value(model, image, (0, 1, 2, 3))
    removed = torch.tensor([value(model, image, tuple(k for k in range(4) if k != j)) for j in range(4)])
    exp = explain(model, image, "single", {"name": "pda", "form": "probability"})
    assert torch.allclose(exp.features[0].scores, (full - removed).float(), atol=1e-6)

    def lap(p: torch.Tensor | float) -> torch.Tensor:
        return (torch.as_tensor(p, dtype=torch.float64) * 100 + 1) / (100 + 10)

    exp = explain(model, image, "single", {"name": "pda", "form": "information", "n_train": 100, "n_classes": 10})
    assert torch.allclose(exp.features[0].scores.double(), torch.log2(lap(full)) - torch.log2(lap(removed)), atol=1e-5)
    exp = explain(model, image, "single", {"name": "pda", "form": "evidence", "laplace": False})
    odds = lambda p: torch.as_tensor(p, dtype=torch.float64) / (1 - torch.as_tensor(p, dtype=torch.float64))  # noqa: E731
    assert torch.allclose(exp.features[0].scores.double(), torch.log2(odds(full)) - torch.log2(odds(removed)),
                          atol=1e-5)


def test_pda_mean_over_removed_rows(image: torch.Tensor) -> None:
    model = SegmentModel(C, interaction=1.0)
    exp = explain(model, image, "exhaustive", "pda")
    z = px.build("sampler", "exhaustive").sample(1, 4, torch.Generator()).z
    y = torch.tensor([value(model, image, tuple(torch.nonzero(r).flatten().tolist())) for r in z])
    expected = torch.stack([value(model, image, (0, 1, 2, 3)) - y[z[:, j] == 0].mean() for j in range(4)])
    assert torch.allclose(exp.features[0].scores, expected, atol=1e-5)


def test_pda_log_forms_need_probabilities(image: torch.Tensor) -> None:
    model = SegmentModel(C, bias=5.0)
    with pytest.raises(PerturbxError, match="probability"):
        explain(model, image, "single", {"name": "pda", "form": "evidence"})


def test_ciu_single_form(image: torch.Tensor) -> None:
    model = SegmentModel([0.2, -0.1, 0.05, 0.3])
    exp = explain(model, image, "single", {"name": "ciu", "form": "single"})
    c = contributions(model, image).float()
    assert torch.allclose(exp.features[0].scores, c.abs(), atol=1e-6)  # Ymax − Ymin = 1
    exp = explain(model, image, "single", {"name": "ciu", "form": "single", "output": "utility"})
    assert torch.equal(exp.features[0].scores, (c > 0).float())
    exp = explain(model, image, "single", {"name": "ciu", "form": "single", "output": "influence"})
    assert torch.allclose(exp.features[0].scores, c / 2, atol=1e-6)


def test_ciu_coalition_form_on_every_context(image: torch.Tensor) -> None:
    model = SegmentModel([0.2, -0.1, 0.05, 0.3])
    exp = explain(model, image, "exhaustive", {"name": "ciu", "y_range": "observed"})
    c = contributions(model, image)
    ys = [value(model, image, s) for k in range(5) for s in itertools.combinations(range(4), k)]
    assert torch.allclose(exp.features[0].scores.double(), c.abs() / (max(ys) - min(ys)), atol=1e-5)


def test_sobol_indices_by_hand() -> None:
    m, n = 3, 4
    z = px.build("sampler", "sobol").sample(n * (m + 2), m, torch.Generator().manual_seed(0)).z
    c = torch.tensor([1.0, 2.0, 0.5])
    y = (z @ c + 0.7 * z[:, 0] * z[:, 1]).double()
    seg = px.segmenters.segmentation.Segmentation.from_labels(torch.arange(3).repeat_interleave(3)[:8].repeat(8, 1))
    blocks = y.view(n, m + 2)  # point-major: [a; b; ab_1..ab_M] per design point
    fa, fb = blocks[:, 0], blocks[:, 1]
    var = torch.cat([fa, fb]).var(unbiased=False)
    for order in ("total", "first"):
        acc = px.build("attributor", {"name": "sobol", "order": order}).start(seg, Coalitions(z), torch.tensor(0.0))
        acc.update(z, None, y)
        got = acc.result().features.double()
        for i in range(m):
            fab = blocks[:, 2 + i]
            want = ((fa - fab) ** 2).mean() / (2 * var) if order == "total" else (fb * (fab - fa)).mean() / var
            assert math.isclose(float(got[i]), float(want), rel_tol=1e-5)


def test_sobol_total_indices_converge(image: torch.Tensor) -> None:
    model = SegmentModel(C)
    exp = explain(model, image, "sobol", "sobol", n=6 * 512, batch=1000)
    c2 = contributions(model, image) ** 2  # additive in uniform amplitudes: S_Ti = c_i² / Σ c²
    assert torch.allclose(exp.features[0].scores.double(), c2 / c2.sum(), atol=0.03)


def test_projection_conserves_scores(image: torch.Tensor) -> None:
    gen = torch.Generator()
    hard = px.build("segmenter", {"name": "grid", "cells": 4}).segment(image[0], gen)
    scores = torch.randn(16)
    assert torch.equal(hard.project(scores), scores[hard.labels])
    soft = px.build("segmenter", {"name": "grid", "cells": 4, "edges": "gaussian"}).segment(image[0], gen)
    assert torch.allclose(soft.project(torch.full((16,), 0.37)), torch.full((SIZE, SIZE), 0.37))
    mapped = soft.project(scores)
    assert mapped.min() >= scores.min() - 1e-6 and mapped.max() <= scores.max() + 1e-6
    # a hard partition's map integrates to Σ_j score_j · area_j
    areas = torch.bincount(hard.labels.flatten(), minlength=16).float()
    assert math.isclose(float(hard.project(scores).sum()), float(scores @ areas), rel_tol=1e-5)


ONE_CELL = {"name": "grid", "cells": 1}


@pytest.mark.parametrize(("sampler", "attributor", "message", "segmenter"), [
    ("bernoulli", "kernelshap", "all-removed row", None),
    ("bernoulli", "occlusion", "removes only that feature", None),
    ("single", "pami", "keeps only that feature", None),
    ("bernoulli", {"name": "ciu", "form": "single"}, "removes only that feature", None),
    ({"name": "single", "inverse": True}, "ciu", "never both kept and removed", ONE_CELL),
    ("bernoulli", "shapley_sampling", "permutation sampler", None),
    ("permutation", "sobol", "sobol sampler", None),
    ({"name": "single", "inverse": True, "include_all": True}, "pda", "never removed", ONE_CELL),
])
def test_illegal_designs_fail_before_any_query(image: torch.Tensor, sampler: object, attributor: object,
                                               message: str, segmenter: object) -> None:
    counting = CountingModel(SegmentModel(C))
    with pytest.raises(PerturbxError, match=message):
        explain(counting, image, sampler, attributor, n=8, segmenter=segmenter)
    assert counting.batches == []
