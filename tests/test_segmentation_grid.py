"""The grid segmenter and the coalition -> keep-mask projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.transform import resize

import perturbx as px
from perturbx.segmenters.segmentation import Segmentation

G = torch.Generator


def test_shifted_bilinear_cells_match_the_original_rise_construction() -> None:
    grid = px.segmenters.Grid(cells=7, edges="bilinear", shift=True)
    seg = grid.segment(torch.zeros(3, 224, 224), G().manual_seed(0))
    z = (torch.rand(5, 49, generator=G().manual_seed(1)) < 0.5).float()
    ours = seg.keep_masks(z, torch.arange(5))
    cell = int(np.ceil(224 / 7))
    for n in range(5):
        up = resize(z[n].view(7, 7).numpy(), (8 * cell, 8 * cell), order=1, mode="reflect", anti_aliasing=False)
        dy, dx = seg.offsets(torch.arange(5))[n].tolist()
        np.testing.assert_allclose(ours[n].numpy(), up[dy : dy + 224, dx : dx + 224], atol=1e-5)


@pytest.mark.parametrize(
    "edges,shift", [("hard", False), ("bilinear", False), ("gaussian", False), ("hard", True), ("bilinear", True)]
)
def test_keep_masks_stay_in_unit_range_and_reference_masks_partition(edges: str, shift: bool) -> None:
    seg = px.segmenters.Grid(cells=5, edges=edges, shift=shift).segment(torch.zeros(3, 40, 50), G().manual_seed(0))
    assert seg.n_features == 25 and seg.labels.shape == (40, 50)
    z = torch.rand(8, 25, generator=G().manual_seed(2))
    keep = seg.keep_masks(z, torch.arange(8))
    assert keep.shape == (8, 40, 50) and keep.min() >= 0 and keep.max() <= 1 + 1e-6
    ones = seg.keep_masks(torch.ones(8, 25), torch.arange(8))
    torch.testing.assert_close(ones, torch.ones_like(ones))
    assert set(seg.labels.unique().tolist()) == set(range(25))


def test_hard_grid_cells_are_equal_blocks() -> None:
    seg = px.segmenters.Grid(cells=4).segment(torch.zeros(3, 32, 32), G())
    assert seg.hard
    assert torch.equal(seg.labels[:8, :8], torch.zeros(8, 8, dtype=torch.long))
    assert torch.equal(seg.labels[8:16, 16:24], torch.full((8, 8), 6))
    assert torch.bincount(seg.labels.flatten()).tolist() == [64] * 16


def test_from_labels_relabels_and_fades() -> None:
    labels = torch.tensor([[5, 5, 9], [5, 7, 9]])
    seg = Segmentation.from_labels(labels)
    assert seg.labels.tolist() == [[0, 0, 2], [0, 1, 2]]
    torch.testing.assert_close(seg.project(torch.tensor([1.0, 2.0, 3.0])), torch.tensor([[1.0, 1, 3], [1, 2, 3]]))
    soft = Segmentation.from_labels(torch.arange(4).repeat_interleave(8).view(1, -1).expand(16, -1), sigma=2.0)
    assert not soft.hard and soft.masks.min() >= 0
    keep = soft.keep_masks(torch.tensor([[1.0, 0, 1, 0]]), torch.zeros(1, dtype=torch.long))
    assert keep.min() >= 0 and keep.max() <= 1 + 1e-6
    assert keep[0, 8, 4] > 0.9 and keep[0, 8, 12] < 0.1  # far from the edges the fade has no effect


def test_impossible_grid_is_rejected() -> None:
    with pytest.raises(px.PerturbxError, match="cells"):
        px.segmenters.Grid(cells=64).segment(torch.zeros(3, 32, 32), G())
    with pytest.raises(px.ConfigError, match="cells"):
        px.segmenters.Grid(cells=0)
    with pytest.raises(px.PerturbxError, match="gaussian"):
        px.segmenters.Grid(edges="gaussian", shift=True).segment(torch.zeros(3, 32, 32), G())
