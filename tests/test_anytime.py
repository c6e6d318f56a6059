"""Error bars and the stopping rule through the Pipeline: exact zeros where the answer is exact, a rule that
stops each image on its own, the same map whatever the batch, and bad settings refused before any query."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from conftest import CountingModel, RegionModel, TinyCNN, grid_rise

import perturbx as px
from perturbx.attributors.uncertainty import project_variance

ROWS, COLS = slice(8, 16), slice(16, 24)  # cell (1, 2) of a 4x4 grid on 32x32
RUN = {"batch_size": 16, "progress": False}
STOP = {"tolerance": 0.05, "check_every": 32, "min_samples": 32, "max_samples": 2000}


pipe = partial(grid_rise, n_samples=300)


def test_rise_stderr_is_zero_where_the_map_is_exact(images: torch.Tensor) -> None:
    x = images[:1]
    region_mean = float(x[0, 0, ROWS, COLS].mean())
    exp = pipe().explain(px.ModelAdapter(RegionModel(ROWS, COLS), output="logit"), x, target=0, **RUN)
    stderr = exp.stderr[0, 0]
    assert exp.stderr.shape == exp.maps.shape
    # every sample keeping a region pixel scores exactly the region mean: nothing left to estimate there
    assert float(stderr[ROWS, COLS].max()) < 1e-6
    outside = torch.ones_like(stderr, dtype=torch.bool)
    outside[ROWS, COLS] = False
    assert (stderr[outside] > 0).all()
    # elsewhere the truth is p·(region mean): the map sits within a few standard errors of it
    z = (exp.maps[0, 0][outside] - 0.5 * region_mean) / stderr[outside]
    assert float(z.abs().max()) < 4.5
    assert exp.queries.tolist() == [301] and exp.error is not None and exp.converged is None


@pytest.mark.parametrize("edges", ["hard", "gaussian"])
def test_pixel_stderr_is_the_projected_feature_covariance(images: torch.Tensor, edges: str) -> None:
    segmenter = {"name": "grid", "cells": 4, "edges": edges, "sigma": 2.0}
    explainer = pipe(segmenter=segmenter, attributor={"name": "rise", "level": "feature"}, n_samples=100)
    exp = explainer.explain(TinyCNN().eval(), images[:1], **RUN)
    features = exp.features[0]
    if edges == "hard":  # each pixel belongs to one feature: its stderr is that feature's
        torch.testing.assert_close(exp.stderr[0, 0], features.stderr[features.segmentation.labels])
    # the projection's variance: brute force over random draws of correlated scores with a known covariance
    m = features.scores.numel()
    root = torch.randn(m, m, generator=torch.Generator().manual_seed(0), dtype=torch.float64) / m
    covariance = root @ root.T
    draws = torch.randn(20000, m, generator=torch.Generator().manual_seed(1), dtype=torch.float64) @ root.T
    seg = features.segmentation
    brute = seg.combine(draws.float()).double().var(0)
    torch.testing.assert_close(project_variance(seg, covariance).float(), brute.float(), rtol=0.1, atol=1e-4)


@pytest.mark.parametrize(
    ("sampler", "attributor", "tolerance", "measure", "cells"),
    [
        ("antithetic", "rise", 0.1, "range", 2),
        ({"name": "kernelshap", "exhaustive": False}, "kernelshap", 0.05, "range", 2),
        ("permutation", "shapley_sampling", 0.05, "range", 2),
        ("sobol", "sobol", 0.2, "range", 2),
        ({"name": "qmc", "block": 32}, {"name": "rise", "control": "linear"}, 0.02, "correlation", 2),
        ({"name": "kernelshap", "exhaustive": False}, "kernelshap", 0.02, "correlation", 2),
        # 16 cells, so ranks can swap: the images stop at 289-385 and 97-129 rows
        ({"name": "qmc", "block": 32}, {"name": "rise", "control": "linear"}, 0.02, "rank", 4),
        ({"name": "leverage_shap", "exhaustive": False}, "kernelshap", 0.02, "rank", 4),
        ({"name": "leverage_shap", "exhaustive": False}, {"name": "kernelshap", "adjust": "logistic"}, 0.02, "rank", 4),
    ],
)
def test_stopping_rule_is_batch_invariant_and_per_image(
    images: torch.Tensor, sampler: object, attributor: object, tolerance: float, measure: str, cells: int
) -> None:
    model, images = TinyCNN().eval(), images[..., :16, :16]
    stop = {**STOP, "tolerance": tolerance, "max_samples": 600, "measure": measure}
    explainer = pipe(sampler=sampler, attributor=attributor, segmenter={"name": "grid", "cells": cells}, stop=stop)
    together = explainer.explain(model, images, target=0, **RUN)
    assert together.converged.all() and (together.error < tolerance).all()
    assert (together.queries <= stop["max_samples"] + 1).all()
    assert together.n_queries == int(together.queries.sum())
    for batch_size in (7, 64):
        for b in range(2):  # alone, with a different batch size: the same map, error and queries
            alone = explainer.explain(model, images[b : b + 1], target=0, batch_size=batch_size, progress=False)
            torch.testing.assert_close(alone.maps[0], together.maps[b], atol=1e-5, rtol=1e-5)
            assert alone.queries[0] == together.queries[b]
            torch.testing.assert_close(alone.stderr[0], together.stderr[b], atol=1e-5, rtol=1e-4)


def test_stopping_rule_spends_fewer_queries_on_easier_images() -> None:
    # image 0 is black inside the model's region, so every sample scores 0: it is exact at the first check
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    x[0, :, ROWS, COLS] = 0.0
    adapter = px.ModelAdapter(RegionModel(ROWS, COLS), output="logit")
    exp = pipe(stop={**STOP, "tolerance": 0.05}).explain(adapter, x, target=0, **RUN)
    assert exp.queries[0] == STOP["min_samples"] + 1 < exp.queries[1]
    assert exp.converged.tolist() == [True, True] and float(exp.error[0]) == 0.0


def test_tolerance_out_of_reach_stops_at_max_samples(images: torch.Tensor) -> None:
    stop = {"tolerance": 1e-6, "check_every": 50, "min_samples": 50, "max_samples": 120}
    exp = pipe(stop=stop).explain(TinyCNN().eval(), images[:1], **RUN)
    assert exp.queries.tolist() == [121] and exp.converged.tolist() == [False]
    assert float(exp.error[0]) > 1e-6


def test_fixed_design_under_a_stopping_rule_runs_whole_and_is_exact(images: torch.Tensor) -> None:
    exp = pipe(
        sampler="exhaustive", attributor="kernelshap", segmenter={"name": "grid", "cells": 2}, stop=STOP
    ).explain(TinyCNN().eval(), images[:1], **RUN)
    assert exp.queries.tolist() == [17] and exp.converged.tolist() == [True]
    assert (exp.stderr == 0).all() and float(exp.error[0]) == 0.0


@pytest.mark.parametrize(
    ("stop", "match"),
    [
        ({"tolerance": 0.0}, "stop.tolerance"),
        ({"tolerance": 1.0}, "stop.tolerance"),
        ({"check_every": 0}, "stop.check_every"),
        ({"min_samples": 500, "max_samples": 100}, "max_samples"),
        ({"patience": 3}, "stop.patience"),
    ],
)
def test_bad_stopping_rules_name_the_field(stop: dict, match: str) -> None:
    with pytest.raises(px.PerturbxError, match=match):
        pipe(stop=stop)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"attributor": "ciu"}, "stop: attributor ciu has no standard error"),
        (
            {
                "sampler": "permutation",
                "attributor": "shapley_sampling",
                "stop": {"min_samples": 10, "max_samples": 20},
            },
            "stop.max_samples",
        ),
    ],
)
def test_unusable_stopping_rules_fail_before_any_query(images: torch.Tensor, kw: dict, match: str) -> None:
    model = CountingModel(TinyCNN())
    kw = {"stop": STOP, **kw}
    with pytest.raises(px.PerturbxError, match=match):
        pipe(**kw).explain(model, images, **RUN)
    assert model.batches == []


def test_evaluator_rows_carry_queries_error_and_convergence(images: torch.Tensor) -> None:
    stopped = pipe(stop={**STOP, "tolerance": 0.2, "max_samples": 200})
    results = px.evaluate(
        TinyCNN().eval(),
        images,
        {"stopped": stopped, "given": torch.rand(2, 1, 32, 32)},
        {"name": "deletion", "step": 256},
        target=0,
        **RUN,
    )
    exp = stopped.explain(TinyCNN().eval(), images, target=0, **RUN)
    rows = [r for r in results.rows if r["explainer"] == "stopped"]
    assert [r["explain_queries"] for r in rows] == exp.queries.tolist()
    assert [r["explain_error"] for r in rows] == pytest.approx(exp.error.tolist())
    assert [r["explain_converged"] for r in rows] == exp.converged.tolist()
    given = [r for r in results.rows if r["explainer"] == "given"]
    assert all(r["explain_error"] is None and r["explain_converged"] is None for r in given)


def test_an_experiment_sweeps_the_tolerance() -> None:
    from perturbx.experiments.sweep import expand

    spec = {"name": "pipeline", "stop": {"tolerance": 0.1}, "sweep": {"stop.tolerance": [0.1, 0.02]}}
    variants = expand("rise", spec, "explainers.rise")
    assert list(variants) == ["rise[tolerance=0.1]", "rise[tolerance=0.02]"]
    built = [px.build("explainer", v) for v in variants.values()]
    assert [b.stop.tolerance for b in built] == [0.1, 0.02]
    assert built[1].spec()["stop"] == {
        "tolerance": 0.02, "check_every": 64, "min_samples": 64, "max_samples": 8000, "measure": "range"
    }


def test_convergence_trace_and_figures(images: torch.Tensor) -> None:
    from perturbx import viz

    explainer = pipe(sampler="antithetic")
    trace = viz.convergence_trace(explainer, TinyCNN().eval(), images[:1], target=0, every=50, max_samples=300)
    assert trace.queries == [51, 101, 151, 201, 251, 301]
    assert trace.rank[-1] == pytest.approx(1.0) and trace.l2[-1] == pytest.approx(0.0, abs=1e-6)
    assert trace.error[-1] < trace.error[0]
    assert len(trace.shortfall) == len(trace.rank_shortfall) == 6 and 0 <= trace.rank_shortfall[-1] < 1
    assert trace.first_within(rank=0.0, l2=1.0) == 51 and trace.first_within(rank=1.1) is None
    figure = viz.convergence_figure({"antithetic": trace}, tolerance=0.05)
    assert [ax.get_xlabel() for ax in figure.axes] == ["model queries"] * 2
    assert len(figure.axes[1].lines) == 3  # rank, L2 and the rank measure's expectation
    exp = explainer.explain(TinyCNN().eval(), images[:1], target=0, **RUN)
    panels = viz.explanation_figure(images[:1], exp.maps[0], "title", "rise", exp.stderr[0])
    assert panels.axes[2].get_title().startswith("standard error") and len(panels.axes[2].images) == 1
    with pytest.raises(px.PerturbxError, match=r"explainer\.attributor: ciu"):
        viz.convergence_trace(pipe(attributor="ciu"), TinyCNN().eval(), images[:1])
