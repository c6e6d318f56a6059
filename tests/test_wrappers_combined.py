"""Gradient × CAM combinations: the product by hand, normalisation choices, Guided Grad-CAM, YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_wrappers_support import images, logits, small_cnn

import perturbx as px
from perturbx.wrappers.cam_base import minmax

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("gradient_norm", ["minmax", "max_abs", "none"])
def test_combined_is_the_normalised_product(gradient_norm: str) -> None:
    model, x, classes = small_cnn(), images(2), [1, 3]
    spec = {"name": "combined", "gradient": {"name": "input_x_gradient"}, "cam": {"name": "gradcam", "layers": "6"},
            "gradient_norm": gradient_norm}
    exp = px.build("explainer", spec).explain(logits(model), x, classes)
    grad = px.build("explainer", "input_x_gradient").explain(logits(model), x, classes)
    cam = px.build("explainer", {"name": "gradcam", "layers": "6"}).explain(logits(model), x, classes)
    g = grad.maps
    g = {"minmax": minmax(g), "max_abs": g / g.abs().amax(dim=(1, 2, 3), keepdim=True), "none": g}[gradient_norm]
    assert torch.allclose(exp.maps, minmax((g * cam.maps).clamp(min=0)), atol=1e-5)
    assert exp.n_queries == grad.n_queries + cam.n_queries
    assert exp.targets.tolist() == classes


def test_guided_gradcam_is_guided_backprop_times_gradcam() -> None:
    model, x = small_cnn(), images(2)
    exp = px.build("explainer", "guided_gradcam").explain(logits(model), x, [0, 2])
    gb = px.build("explainer", "guided_backprop").explain(logits(model), x, [0, 2]).maps
    cam = px.build("explainer", "gradcam").explain(logits(model), x, [0, 2]).maps
    assert torch.allclose(exp.maps, minmax(minmax(gb) * cam), atol=1e-5)


@pytest.mark.parametrize("config,name", [("gradcam.yaml", "gradcam"),
                                          ("integrated_gradients.yaml", "integrated_gradients")])
def test_yaml_configs_build(config: str, name: str) -> None:
    explainer = px.load(REPO / "configs" / config)
    assert explainer.name == name
    assert px.load_config(REPO / "configs" / config).output == "logit"


def test_yaml_dict_with_nested_explainers() -> None:
    explainer = px.load({"model": "efficientnet_lite0", "explainer": {
        "name": "combined", "gradient": {"name": "smoothgrad", "n_samples": 2}, "cam": {"name": "layercam"}}})
    assert explainer.gradient.n_samples == 2 and explainer.cam.name == "layercam"
    assert explainer.spec()["gradient"]["name"] == "smoothgrad"
