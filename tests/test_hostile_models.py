"""Odd models and targets: tuple/dict outputs, float64/half weights, one output, NaN scores, wrong channel
counts, channels-last weights; each is adapted or refused before the work, and the model comes back as found."""

from __future__ import annotations

import pytest
import torch
from conftest import CountingModel, TinyCNN
from torch import nn

import perturbx as px

PIPE = px.Pipeline(segmenter={"name": "grid", "cells": 4}, n_samples=16)


class Wrapped(nn.Module):
    """TinyCNN whose logits come back inside a tuple, a dict or an object with ``.logits``."""

    def __init__(self, style: str) -> None:
        super().__init__()
        self.inner, self.style = TinyCNN().eval(), style

    def forward(self, x: torch.Tensor) -> object:
        y = self.inner(x)
        if self.style == "tuple":
            return y, x.mean()
        if self.style == "dict":
            return {"logits": y, "hidden": x}
        return type("Output", (), {"logits": y})()


@pytest.mark.parametrize("style", ["tuple", "dict", "attribute"])
def test_tuple_and_mapping_outputs_give_the_plain_models_map(images: torch.Tensor, style: str) -> None:
    wrapped = Wrapped(style)
    expected = PIPE.explain(px.ModelAdapter(wrapped.inner, batch_size=4), images, 1).maps
    assert torch.equal(PIPE.explain(px.ModelAdapter(wrapped, batch_size=4), images, 1).maps, expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_models_in_other_float_types_are_fed_their_type(images: torch.Tensor, dtype: torch.dtype) -> None:
    model = TinyCNN().eval().to(dtype)
    exp = PIPE.explain(px.ModelAdapter(model, batch_size=4), images, 0)
    assert exp.maps.dtype == torch.float32 and torch.isfinite(exp.maps).all()
    assert all(p.dtype == dtype for p in model.parameters())
    reference = PIPE.explain(px.ModelAdapter(TinyCNN().eval(), batch_size=4), images, 0).maps
    tolerance = 1e-5 if dtype == torch.float64 else 0.05
    assert torch.allclose(exp.maps, reference, atol=tolerance * float(reference.abs().max()))


def test_one_output_model_needs_logits(images: torch.Tensor) -> None:
    one = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 1))
    counting = CountingModel(one)
    with pytest.raises(px.PerturbxError, match=r"single output.*output='logit'"):
        PIPE.explain(counting, images)
    assert len(counting.batches) == 1
    assert PIPE.explain(px.ModelAdapter(one, output="logit", batch_size=4), images).maps.abs().sum() > 0


class NanModel(nn.Module):
    """Logits of a linear model; NaN for images whose mean is below ``below``."""

    def __init__(self, below: float) -> None:
        super().__init__()
        self.below = below
        self.linear = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x.mean(dim=(2, 3)))
        return torch.where(x.mean(dim=(1, 2, 3))[:, None] < self.below, torch.nan, y)


@pytest.mark.parametrize("below", [2.0, 0.3], ids=["nan-on-x", "nan-on-perturbed"])
def test_nan_scores_are_refused_not_mapped(images: torch.Tensor, below: float) -> None:
    with pytest.raises(px.PerturbxError, match="NaN or infinite"):
        PIPE.explain(px.ModelAdapter(NanModel(below), batch_size=4), images.clamp(0.5, 1), 0)


def test_nan_target_scores_are_refused(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    with pytest.raises(px.PerturbxError, match="callable returned NaN"):
        PIPE.explain(px.ModelAdapter(tiny_cnn, batch_size=4), images, lambda y: y[:, 0] * torch.nan)
    with pytest.raises(px.PerturbxError, match="one score per image"):
        PIPE.explain(px.ModelAdapter(tiny_cnn, batch_size=4), images, lambda y: y)


@pytest.mark.parametrize("channels", [1, 4])
def test_wrong_channel_count_is_refused_at_the_first_call(channels: int) -> None:
    counting = CountingModel(TinyCNN().eval())
    with pytest.raises(px.PerturbxError, match=f"takes 3 channels, got images with {channels}"):
        PIPE.explain(counting, torch.rand(1, channels, 32, 32))
    assert counting.batches == [1]  # the model raised on the first (one-image) call, before any perturbation


def test_channels_last_model_comes_back_channels_last(images: torch.Tensor) -> None:
    model = TinyCNN().eval().to(memory_format=torch.channels_last)
    strides = [p.stride() for p in model.parameters()]
    for channels_last in (False, True, "auto"):
        PIPE.explain(px.ModelAdapter(model, batch_size=4, channels_last=channels_last), images)
        assert [p.stride() for p in model.parameters()] == strides


def test_cold_tuning_leaves_the_global_rng_and_checks_the_target_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, images: torch.Tensor, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("PERTURBX_CACHE_DIR", str(tmp_path))
    counting = CountingModel(TinyCNN().eval())
    with pytest.raises(px.PerturbxError, match="class 7 is out of range for a model with 5 outputs"):
        PIPE.explain(counting, images, 7)
    assert counting.batches == [1]  # one probe image, not the dozens the timing would spend
    model = TinyCNN().eval()  # (its constructor seeds the global generator)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    PIPE.explain(model, images, 1)
    assert torch.equal(torch.get_rng_state(), state)
    assert "timing batch sizes" in capsys.readouterr().err
    PIPE.explain(px.ModelAdapter(TinyCNN().eval(), progress=False), images, 1)  # cached now, and quiet anyway
    assert capsys.readouterr().err == ""
