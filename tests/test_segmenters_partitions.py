"""Multi-partition segmenter: the list PAMI consumes, the shift view, and the union as one segmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import perturbx as px
from perturbx.errors import ConfigError, PerturbxError
from perturbx.segmenters.partitions import Partitions
from perturbx.views.shifts import PAMI_SHIFTS, Shifts

SPECS = [{"name": "slic", "n_segments": 6}, {"name": "watershed", "markers": 4, "edges": "gaussian"}]


def image(size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.rand(3, size // 8, size // 8, generator=g).repeat_interleave(8, 1).repeat_interleave(8, 2)


def colour_classes(a: np.ndarray) -> np.ndarray:
    """Labels by colour only: shifting the image shifts these labels exactly."""
    return (a[..., 0] > 0.5).astype(int) * 2 + (a[..., 1] > 0.5)


def test_segmentations_are_each_segmenter_in_order() -> None:
    x = image()
    parts = Partitions(segmenters=SPECS).partitions(x, torch.Generator())
    assert len(parts) == 2
    for part, spec in zip(parts, SPECS, strict=True):
        direct = px.build("segmenter", spec).segment(x, torch.Generator())
        assert torch.equal(part.labels, direct.labels)
        torch.testing.assert_close(part.masks, direct.masks)


def test_shift_view_rolls_the_image_and_rolls_maps_back() -> None:
    x = image()
    view = Shifts(shifts=[(0, 0), (5, 0), (0, -7), (11, 13)])
    assert view.count() == 4 and Shifts().count() == len(PAMI_SHIFTS) == 13
    for k, (dy, dx) in enumerate(view.shifts):
        shown = view.show(x, k)
        assert torch.equal(shown[:, dy % 32, dx % 32], x[:, 0, 0])
        assert torch.equal(view.back(shown, k), x)
    spec = {"name": "callable", "function": colour_classes}
    shown = px.build("segmenter", spec).segment(view.show(x, 3), None)
    assert torch.equal(view.back(shown.labels, 3), Partitions(segmenters=[spec]).partitions(x, None)[0].labels)


def test_union_keep_mask_is_the_mean_of_the_partitions() -> None:
    x = image()
    p = Partitions(segmenters=SPECS)
    parts = p.partitions(x, torch.Generator())
    union = p.segment(x, torch.Generator())
    sizes = [s.n_features for s in parts]
    assert union.n_features == sum(sizes)
    g = torch.Generator().manual_seed(0)
    z = [torch.rand(4, m, generator=g) for m in sizes]
    expected = sum(s.keep_masks(zi, torch.arange(4)) for s, zi in zip(parts, z, strict=True)) / 2
    torch.testing.assert_close(union.keep_masks(torch.cat(z, 1), torch.arange(4)), expected)


def test_spec_round_trips_and_pami_recipe() -> None:
    p = Partitions(segmenters=SPECS)
    again = px.build("segmenter", p.spec())
    assert again.spec() == p.spec() and again.segmenters[1].edges == "gaussian"
    pami = Partitions()
    assert len(pami.segmenters) == 17 and len(set(PAMI_SHIFTS)) == 13
    names = [s.name for s in pami.segmenters]
    assert names.count("felzenszwalb") == 6 and names.count("slic") == 8 and names.count("watershed") == 3
    assert [s.n_segments for s in pami.segmenters if s.name == "slic"] == list(range(10, 81, 10))


def test_bad_partitions_are_rejected() -> None:
    with pytest.raises(ConfigError, match="segmenters"):
        Partitions(segmenters=[])
    with pytest.raises(ConfigError, match=r"partitions\.segmenters: unknown segmenter 'slik'"):
        Partitions(segmenters=[{"name": "slic"}, {"name": "slik"}])
    shifted_grid = Partitions(segmenters=[{"name": "grid", "cells": 2, "shift": True}])
    with pytest.raises(PerturbxError, match="per-sample"):
        shifted_grid.segment(image(), torch.Generator())
