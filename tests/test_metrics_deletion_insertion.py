"""Deletion and insertion: hand-computed curves, a slow obvious re-implementation, chunking parity."""

from __future__ import annotations

import pytest
import torch
from metric_models import MeanModel, tiny_cnn

import perturbx as px
from perturbx.metrics.deletion_insertion import Deletion, Insertion

BLACK = {"name": "constant", "color": "black"}


def logits(model: torch.nn.Module, batch_size: int = 64) -> px.ModelAdapter:
    return px.ModelAdapter(model, output="logit", batch_size=batch_size)


def test_deletion_to_black_on_the_mean_model_matches_the_hand_computed_auc() -> None:
    x = torch.tensor([0.4, 0.3, 0.2, 0.1]).view(1, 1, 2, 2)
    [score] = Deletion(step=1, substrate=BLACK).evaluate(logits(MeanModel()), x, x.clone(), target=0)
    # mean of the kept pixels: (1.0, 0.6, 0.3, 0.1, 0) / 4, trapezoid with dx = 1/4
    assert torch.allclose(score.curve.y, torch.tensor([0.25, 0.15, 0.075, 0.025, 0.0]))
    assert score.value == pytest.approx(0.25 * (0.125 + 0.15 + 0.075 + 0.025), abs=1e-7)
    assert score.protocol["n_queries"] == 5 and score.protocol["class"] == 0 and score.protocol["output"] == "logit"


def test_insertion_from_black_is_the_mirror_curve() -> None:
    x = torch.tensor([0.4, 0.3, 0.2, 0.1]).view(1, 1, 2, 2)
    [score] = Insertion(step=1, substrate=BLACK).evaluate(logits(MeanModel()), x, x.clone(), target=0)
    assert torch.allclose(score.curve.y, torch.tensor([0.0, 0.1, 0.175, 0.225, 0.25]))
    assert score.value == pytest.approx(0.15625, abs=1e-7)


def test_a_linear_curve_has_auc_one_half_and_the_step_axis_follows_the_rise_code() -> None:
    x = torch.ones(1, 1, 4, 4)
    maps = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    adapter = logits(MeanModel())
    assert Deletion(step=0.25, substrate=BLACK).evaluate(adapter, x, maps, 0)[0].value == pytest.approx(0.5)
    [fraction] = Deletion(step=3, substrate=BLACK).evaluate(adapter, x, maps, 0)
    assert fraction.value == pytest.approx(0.5)
    assert fraction.curve.x.tolist() == pytest.approx([0, 3 / 16, 6 / 16, 9 / 16, 12 / 16, 15 / 16, 1])
    # uniform axis over 6 intervals: (1/6)·(1/2 + (13+10+7+4+1)/16 + 0/2)
    [steps] = Deletion(step=3, substrate=BLACK, axis="step").evaluate(adapter, x, maps, 0)
    assert steps.value == pytest.approx(43 / 96)


def slow_curve(model: torch.nn.Module, image: torch.Tensor, saliency: torch.Tensor, fill: torch.Tensor,
               step: int, insert: bool, target: int) -> list[float]:
    """Pixel by pixel, one image at a time: the definition written out."""
    flat = saliency.flatten().tolist()
    order = sorted(range(len(flat)), key=lambda i: (-flat[i], i))
    ys, h, w = [], *image.shape[-2:]
    counts = [*range(0, h * w + 1, step)]
    counts += [h * w] if counts[-1] != h * w else []
    for count in counts:
        current = fill.clone() if insert else image.clone()
        for i in order[:count]:
            current[:, i // w, i % w] = image[:, i // w, i % w] if insert else fill[:, i // w, i % w]
        with torch.no_grad():
            ys.append(float(model(current[None])[0, target]))
    return ys


@pytest.mark.parametrize("insert", [False, True])
def test_curves_match_a_slow_reimplementation(insert: bool) -> None:
    model = tiny_cnn()
    g = torch.Generator().manual_seed(3)
    x, maps = torch.rand(2, 3, 12, 12, generator=g), torch.rand(2, 1, 12, 12, generator=g)
    metric = (Insertion if insert else Deletion)(step=17, substrate={"name": "blur", "sigma": 1.0, "kernel_size": 5})
    scores = metric.evaluate(logits(model), x, maps, target=[1, 3])
    for b, score in enumerate(scores):
        fill = px.build("substrate", {"name": "blur", "sigma": 1.0, "kernel_size": 5}).prepare(x[b], None, None)
        expected = slow_curve(model, x[b], maps[b, 0], fill, 17, insert, [1, 3][b])
        assert score.curve.y.tolist() == pytest.approx(expected, abs=1e-5)
        assert score.value == pytest.approx(float(torch.trapezoid(torch.tensor(expected), score.curve.x)), abs=1e-5)


@pytest.mark.parametrize("metric", [Deletion, Insertion])
def test_chunked_and_unchunked_curves_agree_and_chunks_span_images(metric: type) -> None:
    from conftest import CountingModel

    g = torch.Generator().manual_seed(5)
    x, maps = torch.rand(3, 3, 32, 32, generator=g), torch.randn(3, 1, 32, 32, generator=g)
    runs = {}
    for size in (1, 7, 1000):
        model = CountingModel(tiny_cnn())
        runs[size] = metric(step=37).evaluate(logits(model), x, maps, batch_size=size)
        points = 3 * (-(-1024 // 37) + 1)
        assert sum(model.batches) == 3 + points
        assert max(model.batches[1:]) == min(size, points)
    for size in (1, 7):
        for a, b in zip(runs[size], runs[1000]):
            assert torch.allclose(a.curve.y, b.curve.y, atol=1e-6)
            assert a.value == pytest.approx(b.value, abs=1e-6)


def test_probability_mode_and_the_predicted_class_are_recorded() -> None:
    model = tiny_cnn()
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    scores = Deletion(step=64, output="probability").evaluate(logits(model), x, torch.rand(2, 1, 16, 16))
    predicted = model(x).argmax(1).tolist()
    assert [s.protocol["class"] for s in scores] == predicted
    assert all(s.protocol["output"] == "probability" and 0 <= s.value <= 1 for s in scores)
    assert '"imagenet_mean"' in scores[0].protocol["substrate"] and scores[0].protocol["step"] == 64


@pytest.mark.parametrize(("maps", "message"), [
    (torch.rand(2, 16, 16), "unsqueeze"),
    (torch.rand(2, 1, 8, 8), "expected shape"),
    (torch.full((2, 1, 16, 16), float("nan")), "NaN"),
    (torch.ones(2, 1, 16, 16, dtype=torch.long), "floating-point"),
])
def test_bad_maps_are_rejected_before_any_query(maps: torch.Tensor, message: str) -> None:
    model = MeanModel()
    with pytest.raises(px.PerturbxError, match=message):
        Deletion().evaluate(logits(model), torch.rand(2, 3, 16, 16), maps)
    assert model.calls == 0


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(px.ConfigError, match="step"):
        Deletion(step=1.5)
    with pytest.raises(px.ConfigError, match="substrate"):
        Insertion(substrate="no_such_fill")
