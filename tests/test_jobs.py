"""The one job contract: per-stage random streams, lazily drawn grid shifts, views, bound substrates,
run-time options outside the spec, and refusals when a pipeline is built."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import CountingModel, TinyCNN
from scipy.ndimage import gaussian_filter

import perturbx as px
from perturbx.seeding import stream
from perturbx.segmenters.segmentation import SHIFT_BLOCK

X = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_streams_are_independent_so_a_random_substrate_leaves_the_design_alone() -> None:
    plain = px.Pipeline(segmenter={"name": "grid", "cells": 4, "shift": True, "edges": "bilinear"}, n_samples=30)
    noisy = plain.model_copy(update={"substrate": px.build("substrate", "uniform_noise")})
    a, b = next(plain.jobs(X[0])), next(noisy.jobs(X[0]))
    assert torch.equal(a.coalitions.z, b.coalitions.z)
    assert torch.equal(a.segmentation.offsets(torch.arange(30)), b.segmentation.offsets(torch.arange(30)))
    def draw(*key: object) -> torch.Tensor:
        return torch.rand(4, generator=stream(*key))

    assert not torch.equal(draw(0, "sampler"), draw(0, "substrate"))
    assert not torch.equal(draw(0, "sampler", 0), draw(0, "sampler", 1))
    assert torch.equal(draw(5, "sampler", 2), draw(5, "sampler", 2))


def test_grid_shifts_depend_only_on_the_sample_number() -> None:
    seg = px.build("segmenter", {"name": "grid", "cells": 7, "shift": True}).segment(X[0], stream(0, "segmenter"))
    n = 2 * SHIFT_BLOCK + 10
    whole = seg.offsets(torch.arange(n))
    pieces = torch.cat([seg.offsets(torch.arange(a, min(a + 333, n))) for a in range(0, n, 333)])
    assert torch.equal(whole, pieces) and torch.equal(seg.offsets(torch.tensor([n - 1, 3])), whole[[n - 1, 3]])
    assert whole.min() >= 0 and (whole.max(0).values < torch.tensor(seg.cell)).all()
    assert len({tuple(r) for r in whole[:200].tolist()}) > 20  # offsets vary from sample to sample


def test_pami_preset_runs_one_job_per_view_and_partition() -> None:
    pipe = px.load("configs/pami.yaml")
    pipe = pipe.model_copy(update={"segmenter": px.build("segmenter", {"name": "partitions", "segmenters": [
        {"name": "grid", "cells": 2}, {"name": "grid", "cells": 4}, {"name": "slic", "n_segments": 5}]})})
    jobs = list(pipe.jobs(X[0]))
    assert len(jobs) == 3 * pipe.view.count() == 15
    for j, job in enumerate(jobs):
        assert job.view == j // 3 and torch.equal(job.image, pipe.view.show(X[0], job.view))
        assert torch.equal(job.coalitions.z, torch.eye(job.segmentation.n_features))
    assert [job.segmentation.n_features for job in jobs[:2]] == [4, 16]


def test_bound_fills_have_one_form_for_every_substrate() -> None:
    keep = (torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    fixed = px.build("substrate", {"name": "constant", "color": "grey"}).bind(X[0], None, stream(0, "substrate"))
    assert fixed(keep).shape == (3, 32, 32) and torch.equal(fixed(keep), fixed(keep[:1]))
    region = px.build("substrate", "noisy_linear").bind(X[0], None, stream(0, "substrate"))
    filled = region(keep)
    assert filled.shape == (3, 3, 32, 32)
    kept = keep[:, None].expand_as(filled) == 1
    assert torch.equal(filled[kept], X[0].expand(3, -1, -1, -1)[kept])  # kept pixels keep the image's values


def test_rise_blur_is_the_original_kernel_with_zero_padding_in_normalised_space() -> None:
    delta = np.zeros((11, 11))
    delta[5, 5] = 1
    kernel = torch.from_numpy(gaussian_filter(delta, 5)).float()  # RISE's gkern(11, 5)
    mean = torch.tensor(px.models.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(px.models.IMAGENET_STD).view(3, 1, 1)
    weights = torch.zeros(3, 3, 11, 11)
    for c in range(3):
        weights[c, c] = kernel
    expected = torch.nn.functional.conv2d(((X[0] - mean) / std)[None], weights, padding=5)[0]
    ours = (px.build("substrate", "rise_blur").prepare(X[0], None, None) - mean) / std
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    assert px.build("metric", "insertion").substrate.name == "rise_blur"


def test_kernelshap_with_a_sampler_lacking_the_empty_row_is_refused_when_loaded() -> None:
    spec = {"explainer": {"name": "pipeline", "sampler": "bernoulli", "attributor": "kernelshap"}}
    with pytest.raises(px.ConfigError, match=r"kernelshap: needs y\(∅\).*bernoulli"):
        px.load(spec)
    pipe = px.Pipeline(sampler="kernelshap", attributor="kernelshap")
    with pytest.raises(px.ConfigError, match="lime sampler"):
        pipe.sampler = px.build("sampler", "lime")
    px.Pipeline(sampler={"name": "single", "include_none": True}, attributor="kernelshap")


def test_run_time_options_stay_out_of_the_spec_and_are_restored() -> None:
    pipe = px.Pipeline(segmenter={"name": "grid", "cells": 4}, n_samples=10)
    assert "batch_size" not in pipe.spec() and "progress" not in pipe.spec()
    counting = CountingModel(TinyCNN())
    adapter = px.ModelAdapter(counting, batch_size=8)
    exp = pipe.explain(adapter, X, batch_size=3, progress=False)
    assert max(counting.batches[1:]) == 3 and exp.meta["batch_size"] == 3
    assert adapter.batch_size == 8 and adapter.progress is True
    assert exp.method == "rise" and exp.meta["explainer"] == pipe.spec()
    with pytest.raises(px.PerturbxError, match="batch_size"):
        pipe.explain(adapter, X, batch_size=0)


def test_two_configurations_of_one_metric_keep_their_own_rows_and_curves() -> None:
    maps = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    metrics = [{"name": "deletion", "step": 256}, {"name": "deletion", "step": 512}, "mif_lif",
               {"name": "mif_lif", "points": 3}]
    results = px.evaluate(px.ModelAdapter(TinyCNN(), batch_size=16), X, {"given": maps}, metrics, progress=False)
    names = {r["metric"] for r in results}
    assert names == {"deletion", "deletion#2", "mif", "lif", "srg", "mif#2", "lif#2", "srg#2"}
    first, second = results.curves[(0, "given", "deletion")], results.curves[(0, "given", "deletion#2")]
    assert len(first.x) == 5 and len(second.x) == 3
