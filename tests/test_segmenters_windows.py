"""Sliding windows: overlapping occlusion equals Captum's Occlusion with stride < window."""

from __future__ import annotations

import pytest
import torch
from conftest import TinyCNN

import perturbx as px


def test_removing_a_window_removes_all_its_pixels() -> None:
    seg = px.segmenters.Windows(size=8, stride=4).segment(torch.zeros(3, 32, 32), torch.Generator())
    assert seg.n_features == 49 and float(seg.masks.sum(0).min()) == 1.0
    z = torch.ones(1, 49)
    z[0, 8] = 0  # second row of windows, second column: rows 4..11, cols 4..11
    keep = seg.keep_masks(z, torch.zeros(1, dtype=torch.long))[0]
    assert float(keep[4:12, 4:12].max()) < 1e-20
    assert float(keep.sum()) == pytest.approx(32 * 32 - 64)


@pytest.mark.parametrize(("size", "stride"), [(8, 4), (12, 5), (8, 8)])
def test_overlapping_occlusion_equals_captum(size: int, stride: int) -> None:
    model = TinyCNN().eval()
    with torch.no_grad():
        model.fc.weight.mul_(20.0)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    target = int(model(x).argmax())
    pipe = px.Pipeline(segmenter={"name": "windows", "size": size, "stride": stride}, sampler="single",
                       substrate={"name": "constant", "color": 0.5}, attributor="occlusion", n_samples=1)
    ours = pipe.explain(px.ModelAdapter(model, output="logit"), x, target=target, batch_size=16).maps[0, 0]
    captum_attr = pytest.importorskip("captum.attr")
    theirs = captum_attr.Occlusion(model).attribute(
        x, sliding_window_shapes=(3, size, size), strides=(3, stride, stride), baselines=0.5, target=target)[0, 0]
    scale = float(theirs.abs().max())
    assert scale > 1e-2
    assert float((ours - theirs).abs().max()) / scale < 1e-5


def test_impossible_windows_are_rejected() -> None:
    with pytest.raises(px.PerturbxError, match="does not fit"):
        px.segmenters.Windows(size=64).segment(torch.zeros(3, 32, 32), torch.Generator())
    with pytest.raises(px.PerturbxError, match="stride"):
        px.segmenters.Windows(size=4, stride=8).segment(torch.zeros(3, 32, 32), torch.Generator())
