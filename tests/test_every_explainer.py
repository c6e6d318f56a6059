"""Every registered explainer: each image's map is its own (the same alone as in a batch, whatever the
batch size), a different target changes it, and method and meta are stamped the same way."""

from __future__ import annotations

import pytest
import torch
from test_wrappers_support import images, small_cnn

import perturbx as px
from perturbx import registry

SMALL = {  # fewer steps or samples so that every method runs in about a second; defaults otherwise
    "pipeline": {"segmenter": {"name": "grid", "cells": 4}, "n_samples": 24},
    "integrated_gradients": {"steps": 6},
    "blur_ig": {"steps": 4, "max_sigma": 2.0},
    "guided_ig": {"steps": 3},
    "iia": {"steps": 3},
    "smoothgrad": {"n_samples": 4},
    "vit_iia": {"steps": 2},
}
TRANSFORMERS = {"attention_rollout", "vit_iia"}
CLASS_AGNOSTIC = {"attention_rollout", "eigencam", "kpcacam"}  # principal components or attention flow


def model_for(name: str) -> torch.nn.Module:
    """A small CNN with well separated class scores, or a tiny timm ViT for the attention methods."""
    if name in TRANSFORMERS:
        timm = pytest.importorskip("timm")
        torch.manual_seed(0)
        return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, depth=3,
                                 num_classes=5).eval()
    model = small_cnn()
    with torch.no_grad():
        model[-1].weight.mul_(50)  # distinct class scores, so that softmax-weighted CAMs differ per class
    return model


@pytest.mark.parametrize("name", registry.names("explainer"))
def test_each_image_gets_its_own_map(name: str) -> None:
    explainer = px.build("explainer", {"name": name, **SMALL.get(name, {})})
    model, x, classes = model_for(name), images(3), [1, 4, 2]
    adapter = px.ModelAdapter(model, output="logit", channels_last=False, progress=False)
    batch = explainer.explain(adapter, x, torch.tensor(classes), batch_size=5)
    assert batch.maps.shape == (3, 1, 32, 32) and torch.isfinite(batch.maps).all() and batch.n_queries >= 3
    assert batch.method == explainer.method and batch.meta["explainer"] == explainer.spec()
    for b, c in enumerate(classes):
        alone = explainer.explain(adapter, x[b : b + 1], c, batch_size=2 + b)
        torch.testing.assert_close(alone.maps[0], batch.maps[b], atol=1e-5, rtol=1e-4)
    other = explainer.explain(adapter, x, torch.tensor([3, 0, 0]), batch_size=5).maps
    if name not in CLASS_AGNOSTIC:
        assert (batch.maps - other).abs().amax(dim=(1, 2, 3)).min() > 1e-6
