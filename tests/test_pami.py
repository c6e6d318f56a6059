"""PAMI as a pipeline preset: the average map by hand on a tiny case, normalisation, shifts, stage two, errors."""

from __future__ import annotations

import pytest
import torch
from conftest import CountingModel, RegionModel, TinyCNN

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.pipelines.config import load_config
from perturbx.segmenters.partitions import Partitions
from perturbx.views.shifts import Shifts

H = W = 8
RUN = {"batch_size": 4, "progress": False}


def whole_image_mean() -> RegionModel:
    return RegionModel(slice(None), slice(None))


def pami(segmenters: list, shifts: list | None = None, substrate: object = None, **params: object) -> px.Pipeline:
    """The PAMI preset: every segmenter's partition of every shifted copy, one segment kept at a time."""
    return px.build("explainer", {
        "name": "pipeline", "segmenter": {"name": "partitions", "segmenters": segmenters},
        "view": {"name": "shifts", "shifts": shifts or [(0, 0)]}, "sampler": {"name": "single", "inverse": True},
        "substrate": substrate or {"name": "constant", "color": "black"}, "attributor": "pami", "n_samples": 1,
        **params})


def cell(r: int, c: int, cells: int) -> int:
    return (r * cells // H) * cells + c * cells // W


def hand_average(x: torch.Tensor, grids: list[int], shifts: list[tuple[int, int]]) -> torch.Tensor:
    """Loops over pixels: the model is the image mean of channel 0 and the fill is black, so keeping one
    segment alone scores (sum of channel 0 over the segment) / (H·W) — in the shifted copy, whose pixel
    (r, c) holds the original pixel (r − dy, c − dx)."""
    total = torch.zeros(H, W, dtype=torch.float64)
    for cells in grids:
        for dy, dx in shifts:
            def segment(r: int, c: int, cells: int = cells, dy: int = dy, dx: int = dx) -> int:
                return cell((r + dy) % H, (c + dx) % W, cells)  # where original (r, c) lands, and its cell

            for r in range(H):
                for c in range(W):
                    mates = [(i, j) for i in range(H) for j in range(W) if segment(i, j) == segment(r, c)]
                    total[r, c] += sum(float(x[0, 0, i, j]) for i, j in mates) / (H * W)
    return total / (len(grids) * len(shifts))


def test_average_map_by_hand() -> None:
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0))
    shifts = [(0, 0), (0, 3), (-2, 0), (5, 1)]
    explainer = pami(segmenters=[{"name": "grid", "cells": 2}, {"name": "grid", "cells": 4}], shifts=shifts)
    exp = explainer.explain(px.ModelAdapter(whole_image_mean(), output="logit"), x, target=0, **RUN)
    expected = hand_average(x, [2, 4], shifts)
    assert torch.allclose(exp.meta["average"][0, 0].double(), expected, atol=1e-6)
    avg = exp.meta["average"][0, 0]
    assert torch.allclose(exp.maps[0, 0], (avg - avg.min()) / (avg.max() - avg.min() + 1e-8), atol=1e-6)
    assert exp.n_queries == 1 + 4 * (4 + 16)
    assert exp.method == "pami" and exp.maps.shape == (1, 1, H, W)


def test_soft_masks_average_is_mask_weighted() -> None:
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(1))
    spec = {"name": "grid", "cells": 2, "edges": "gaussian", "sigma": 1.5}
    exp = pami(segmenters=[spec], shifts=[(0, 0)]).explain(px.ModelAdapter(whole_image_mean(), output="logit"), x, 0,
                                                           **RUN)
    seg = px.build("segmenter", spec).segment(x[0], torch.Generator())
    keep = seg.masks / seg.coverage  # keep-mask of segment i alone
    p = (x[0, 0] * keep).mean((1, 2))
    expected = (p[:, None, None] * seg.masks).sum(0) / seg.masks.sum(0)
    assert torch.allclose(exp.meta["average"][0, 0], expected, atol=1e-6)


def test_batch_matches_single_images_and_stage_two() -> None:
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    model = TinyCNN().eval()
    explainer = pami(segmenters=[{"name": "grid", "cells": 2}, {"name": "slic", "n_segments": 6}],
                     shifts=[(0, 0), (4, 0)], stages=2, substrate={"name": "blur", "sigma": 100.0, "kernel_size": 49})
    exp = explainer.explain(model, x, **RUN)
    for b in range(2):
        one = explainer.explain(model, x[b : b + 1], target=int(exp.targets[b]), batch_size=3, progress=False)
        assert torch.allclose(one.maps[0], exp.maps[b], atol=1e-6)
    first = pami(segmenters=explainer.spec()["segmenter"]["segmenters"], shifts=[(0, 0), (4, 0)],
                 substrate={"name": "blur", "sigma": 100.0, "kernel_size": 49}).explain(model, x, **RUN)
    assert torch.allclose(exp.meta["first_stage_average"], first.meta["average"], atol=1e-6)
    assert not torch.allclose(exp.meta["average"], first.meta["average"])
    assert torch.isfinite(exp.maps).all() and exp.maps.min() >= 0 and exp.maps.max() <= 1


def test_defaults_are_the_papers() -> None:
    assert len(Partitions().segmenters) == 17 and Shifts().count() == 13
    explainer = load_config("configs/pami.yaml").build()
    assert len(explainer.segmenter.segmenters) == 17 and explainer.view.count() == 5
    assert explainer.substrate.spec() == {"name": "blur", "sigma": 100.0, "kernel_size": 49}
    rebuilt = px.build("explainer", explainer.spec())
    assert rebuilt.spec() == explainer.spec()


def test_per_sample_masks_rejected_before_queries() -> None:
    counting = CountingModel(whole_image_mean())
    with pytest.raises(PerturbxError, match="per-sample"):
        pami(segmenters=[{"name": "grid", "cells": 2, "shift": True}]).explain(counting, torch.rand(1, 3, H, W), **RUN)
    assert counting.batches == []


def test_bad_colormap_is_a_config_error() -> None:
    with pytest.raises(px.ConfigError, match="colormap"):
        pami([{"name": "grid", "cells": 2}], colormap="no-such-map")


def test_sliding_windows_by_hand() -> None:
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(6))
    radius, stride = 2.5, 3
    explainer = px.build("explainer", {"name": "pipeline", "segmenter": {"name": "disks", "radius": radius,
                                                                         "stride": stride},
                                       "sampler": {"name": "single", "inverse": True}, "attributor": "pami",
                                       "substrate": {"name": "constant", "color": "black"}, "n_samples": 1})
    exp = explainer.explain(px.ModelAdapter(whole_image_mean(), output="logit"), x, target=0, **RUN)
    centres = [(r, c) for r in range(0, H, stride) for c in range(0, W, stride)]
    total, count = torch.zeros(H, W, dtype=torch.float64), torch.zeros(H, W, dtype=torch.float64)
    for cr, cc in centres:
        disk = [(r, c) for r in range(H) for c in range(W) if (r - cr) ** 2 + (c - cc) ** 2 <= radius**2]
        p = sum(float(x[0, 0, r, c]) for r, c in disk) / (H * W)
        for r, c in disk:
            total[r, c] += p
            count[r, c] += 1
    assert torch.allclose(exp.meta["average"][0, 0].double(), total / count, atol=1e-6)
    assert exp.n_queries == 1 + len(centres)
    avg = exp.meta["average"][0, 0]
    assert torch.allclose(exp.maps[0, 0], (avg - avg.min()) / (avg.max() - avg.min() + 1e-8), atol=1e-6)


def test_sliding_windows_must_cover_every_pixel() -> None:
    counting = CountingModel(whole_image_mean())
    with pytest.raises(PerturbxError, match="radius"):
        px.build("explainer", {"name": "pipeline", "segmenter": {"name": "disks", "radius": 3, "stride": 6},
                               "sampler": {"name": "single", "inverse": True}, "attributor": "pami"}).explain(
            counting, torch.rand(1, 3, H, W), **RUN)
    assert counting.batches == []
