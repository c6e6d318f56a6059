"""Gradient, CAM and combined wrappers are scored by the same evaluator as the perturbation pipelines."""

from __future__ import annotations

from test_wrappers_state import FAST
from test_wrappers_support import images, logits, small_cnn

import perturbx as px


def test_evaluator_scores_wrappers_of_every_family() -> None:
    names = ["saliency", "integrated_gradients", "gradcam", "scorecam", "fullgrad", "iia", "combined", "deeplift",
             "deeplift_shap", "gradient_shap", "expected_gradients", "shapleycam", "finercam", "kpcacam"]
    explainers = {name: {"name": name, **FAST.get(name, {})} for name in names}
    results = px.evaluate(logits(small_cnn()), images(2), explainers=explainers, metrics=["deletion"], target=[1, 3])
    table = results.to_pandas()
    assert sorted(set(table["explainer"])) == sorted(names)
    assert len(table) == 2 * len(names)
    assert table["value"].notna().all()
