"""The model adapter: output modes, normalisation, and the caller's model left exactly as found."""

from __future__ import annotations

import pytest
import torch
from conftest import CountingModel, TinyCNN
from torch import nn

import perturbx as px


def snapshot(model: nn.Module) -> dict:
    return {
        "params": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "training": [m.training for m in model.modules()],
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)) for m in model.modules()],
        "contiguous": [p.is_contiguous() for p in model.parameters()],
    }


def assert_same(before: dict, model: nn.Module) -> None:
    after = snapshot(model)
    assert after["requires_grad"] == before["requires_grad"]
    assert after["training"] == before["training"]
    assert after["hooks"] == before["hooks"]
    assert after["contiguous"] == before["contiguous"]
    for a, b in zip(before["grads"], after["grads"], strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    for k, v in before["params"].items():
        assert torch.equal(v, after["params"][k]), k


def prepared_model() -> nn.Module:
    """A model in train mode with a frozen layer, a stale gradient and a user hook: all must survive."""
    model = TinyCNN().train()
    model.features[0].weight.requires_grad_(False)
    model.fc.weight.grad = torch.ones_like(model.fc.weight)
    model.fc.register_forward_hook(lambda *args: None)
    return model


PIPE = px.Pipeline(segmenter={"name": "grid", "cells": 4}, n_samples=20)


@pytest.mark.parametrize("channels_last", [True, False, "auto"])
def test_state_is_restored_after_success(images: torch.Tensor, channels_last: object) -> None:
    model = prepared_model()
    before = snapshot(model)
    PIPE.explain(px.ModelAdapter(model, channels_last=channels_last), images)
    assert_same(before, model)


def test_state_is_restored_after_an_error_mid_explanation(images: torch.Tensor) -> None:
    inner = prepared_model()
    model = CountingModel(inner, fail_on_call=3)
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="on purpose"):
        PIPE.explain(px.ModelAdapter(model, batch_size=4, channels_last=True), images)
    assert len(model.batches) == 3
    assert_same(before, model)


def test_explanation_runs_in_eval_mode(images: torch.Tensor) -> None:
    model = prepared_model()
    modes = []
    model.register_forward_pre_hook(lambda m, args: modes.append(m.training))
    PIPE.explain(model, images)
    assert modes and not any(modes)
    assert model.training


def test_output_modes_and_normalisation() -> None:
    model = TinyCNN().eval()
    x = torch.rand(3, 3, 32, 32)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    normalised = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = model(normalised)
    for output, expected in [
        ("logit", logits),
        ("probability", logits.softmax(1)),
        ("log_probability", logits.log_softmax(1)),
    ]:
        got = px.ModelAdapter(model, mean=mean, std=std, output=output, batch_size=2)(x)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"output": "probs"}, "output mode"),
        ({"batch_size": 0}, "batch_size"),
        ({"mean": (0.5,)}, "mean and std"),
        ({"mean": (0.5,), "std": (0.0,)}, "std"),
    ],
)
def test_adapter_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(px.PerturbxError, match=match):
        px.ModelAdapter(TinyCNN(), **kwargs)


def test_adapter_rejects_non_modules() -> None:
    with pytest.raises(px.PerturbxError, match=r"nn\.Module"):
        PIPE.explain(lambda x: x, torch.rand(1, 3, 32, 32))


def test_tuning_picks_a_candidate_and_is_cached(images: torch.Tensor) -> None:
    from perturbx.models import tuning

    adapter = px.ModelAdapter(TinyCNN())
    with adapter.session():
        size, channels_last = adapter.plan((3, 32, 32))
    assert size in tuning.CPU_BATCHES and isinstance(channels_last, bool)
    counting = CountingModel(TinyCNN())
    counting.__class__.__qualname__ = TinyCNN.__qualname__  # same fingerprint as the tuned model
    fresh = px.ModelAdapter(counting)
    with fresh.session():
        assert fresh.plan((3, 32, 32)) == (size, channels_last)
    assert counting.batches == []  # read from the cache: no tuning forward passes
