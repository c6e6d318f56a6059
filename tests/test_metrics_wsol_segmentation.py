"""Localisation boxes (MaxBoxAcc, top-1 localisation) and segmentation scores (pixel accuracy, mean IoU,
AP) on tiny hand-built maps whose answers are counted by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import RegionModel

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.metrics.segmentation import average_precision
from perturbx.metrics.wsol import box_iou, component_boxes, largest_component_box, max_box_accuracy_of


def test_box_helpers_by_hand() -> None:
    assert box_iou((0, 0, 1, 1), (1, 1, 2, 2)) == pytest.approx(1 / 7)  # 1 shared pixel of 4 + 4 − 1
    assert box_iou((0, 0, 3, 3), (0, 0, 3, 3)) == 1.0
    mask = np.zeros((6, 6), bool)
    mask[0, 0:3] = True  # 3 pixels
    mask[3:5, 3:6] = True  # 6 pixels
    assert largest_component_box(mask) == (3, 3, 4, 5)
    assert component_boxes(mask) == [(0, 0, 0, 2), (3, 3, 4, 5)]
    assert largest_component_box(np.zeros((3, 3), bool)) is None


def wsol_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three 6×6 images, each with the region rows 1-3 × cols 1-3 (a 3×3 box).

    0: map 1 on the region, 0 elsewhere → correct for every τ > 0 (τ = 0 keeps the whole image: IoU 9/36).
    1: map peaks on rows 4-5 × cols 4-5 → never correct.
    2: map 1 on the region and 0.4 on a ring around it → below τ = 0.4 the box is rows 0-4 × cols 0-4
       (IoU 9/25), from τ = 0.5 on it is the region.
    """
    regions = torch.zeros(3, 6, 6, dtype=torch.bool)
    regions[:, 1:4, 1:4] = True
    maps = torch.zeros(3, 1, 6, 6)
    maps[0, 0, 1:4, 1:4] = 1.0
    maps[1, 0, 4:6, 4:6] = 1.0
    maps[2, 0, 0:5, 0:5] = 0.4
    maps[2, 0, 1:4, 1:4] = 1.0
    return torch.rand(3, 3, 6, 6, generator=torch.Generator().manual_seed(0)), maps, regions


def test_max_box_accuracy_by_hand() -> None:
    x, maps, regions = wsol_case()
    metric = px.build("metric", {"name": "max_box_accuracy", "n_thresholds": 10})
    scores = metric.evaluate(RegionModel(slice(0, 6), slice(0, 6)), x, maps, regions=regions)
    # share correct per τ = 0, 0.1, …, 0.9: 0, then 1/3 up to 0.4, then 2/3: MaxBoxAcc 2/3 at τ = 0.5
    assert [s.value for s in scores] == [1.0, 0.0, 1.0]
    assert scores[0].protocol["threshold"] == 0.5
    one_at_a_time = [
        metric.evaluate(
            RegionModel(slice(0, 6), slice(0, 6)), x[b : b + 1], maps[b : b + 1], regions=regions[b : b + 1]
        )[0]
        for b in range(3)
    ]
    assert max_box_accuracy_of([s.curve for s in one_at_a_time]) == (pytest.approx(2 / 3), 0.5)
    fixed = px.build("metric", {"name": "max_box_accuracy", "threshold": 0.2}).evaluate(
        RegionModel(slice(0, 6), slice(0, 6)), x, maps, regions=regions
    )
    assert [s.value for s in fixed] == [1.0, 0.0, 0.0]  # BoxAcc(0.2): image 2's box is still the ring's


def test_top1_localisation_needs_the_right_class_and_box() -> None:
    x, maps, regions = wsol_case()
    model = RegionModel(slice(0, 6), slice(0, 6))  # class 0 scores the (positive) mean, class 1 is 0
    metric = px.build("metric", {"name": "top1_localisation", "threshold": 0.2})
    scores = metric.evaluate(model, x, maps, target=[0, 0, 1], regions=regions)
    assert [s.value for s in scores] == [1.0, 0.0, 0.0]  # image 2 has the box but the wrong class
    assert scores[2].protocol["iou_value"] == pytest.approx(9 / 25)
    assert (
        px.build("metric", {"name": "top1_localisation", "threshold": 0.5})
        .evaluate(model, x, maps, target=[0, 0, 0], regions=regions)[2]
        .value
        == 1.0
    )


def seg_case() -> tuple[torch.Tensor, torch.Tensor]:
    """A 4×4 map with values 0..15 row-major (mean 7.5, scaled mean 0.5) and the mask of its right half."""
    saliency = torch.arange(16.0).view(1, 1, 4, 4)
    region = torch.zeros(1, 4, 4, dtype=torch.bool)
    region[0, :, 2:] = True
    return saliency, region


def test_pixel_accuracy_and_mean_iou_by_hand() -> None:
    saliency, region = seg_case()
    x = torch.rand(1, 3, 4, 4)
    model = RegionModel(slice(0, 4), slice(0, 4))
    # foreground = values > 7.5 = rows 2-3 (8 px); mask = cols 2-3 (8 px); they share 4 px, agree on 8 of 16
    accuracy = px.build("metric", "pixel_accuracy").evaluate(model, x, saliency, regions=region)[0].value
    assert accuracy == pytest.approx(8 / 16)
    iou = px.build("metric", "mean_iou").evaluate(model, x, saliency, regions=region)[0].value
    assert iou == pytest.approx((4 / 12 + 4 / 12) / 2)
    low = px.build("metric", {"name": "pixel_accuracy", "threshold": 0.0}).evaluate(model, x, saliency, regions=region)
    assert low[0].value == pytest.approx(9 / 16)  # all but the 0 pixel is foreground: the mask's 8 and pixel 0 agree


def test_average_precision_by_hand_and_against_scikit_learn() -> None:
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.tensor([True, False, True, False])
    assert average_precision(scores, labels) == pytest.approx(1 * 0.5 + 2 / 3 * 0.5)
    metrics = pytest.importorskip("sklearn.metrics")
    generator = torch.Generator().manual_seed(2)
    for _ in range(5):
        s = torch.randint(0, 6, (40,), generator=generator).double()  # many ties
        y = torch.rand(40, generator=generator) < 0.4
        assert average_precision(s, y) == pytest.approx(metrics.average_precision_score(y.numpy(), s.numpy()))


def test_segmentation_ap_through_evaluate() -> None:
    saliency, region = seg_case()
    model = RegionModel(slice(0, 4), slice(0, 4))
    results = px.evaluate(
        model, torch.rand(1, 3, 4, 4), {"ramp": saliency}, ["segmentation_ap", "mean_iou"], regions=region
    )
    values = {row["metric"]: row["value"] for row in results.rows}
    expected = average_precision(saliency[0, 0], region[0])
    assert values["segmentation_ap"] == pytest.approx(expected)


def test_bad_inputs_fail_before_any_query() -> None:
    calls = []
    model = RegionModel(slice(0, 4), slice(0, 4))
    model.register_forward_pre_hook(lambda m, i: calls.append(1))
    saliency, region = seg_case()
    x = torch.rand(1, 3, 4, 4)
    for name in ("max_box_accuracy", "top1_localisation", "pixel_accuracy", "mean_iou", "segmentation_ap"):
        with pytest.raises(PerturbxError, match=f"{name}: needs regions"):
            px.evaluate(model, x, {"ramp": saliency}, name)
        with pytest.raises(PerturbxError, match="regions: expected shape"):
            px.evaluate(model, x, {"ramp": saliency}, name, regions=torch.ones(1, 5, 5, dtype=torch.bool))
    for spec in (
        {"name": "mean_iou", "threshold": 1.5},
        {"name": "max_box_accuracy", "iou": 0.0},
        {"name": "top1_localisation", "threshold": -0.1},
    ):
        with pytest.raises(PerturbxError, match=spec["name"]):
            px.evaluate(model, x, {"ramp": saliency}, spec, regions=region)
    assert not calls
