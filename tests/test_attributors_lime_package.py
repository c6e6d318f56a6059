"""Cross-check with the lime package: the bundled ``lime`` config's stages give lime_image's explanation
when both see the same image, superpixels and coalitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TinyCNN

import perturbx as px
from perturbx.seeding import stream

lime_image = pytest.importorskip("lime.lime_image")

CELLS, SIZE, N = 4, 32, 200
CONFIGS = Path(px.__file__).parent / "configs"


class Replay:
    """Stands in for lime_image's random state: its one draw of the design returns ``rows``."""

    def __init__(self, rows: torch.Tensor) -> None:
        self.rows = rows

    def randint(self, low: int, high: int | None = None, size: int | None = None) -> np.ndarray | int:
        if size is None:  # lime draws a seed for its segmenter and regressor this way
            return 0
        assert size == self.rows.numel(), "lime asked for a design of another size"
        return self.rows.long().numpy().reshape(-1)


def test_bundled_lime_config_matches_lime_image() -> None:
    model = TinyCNN().eval()
    with torch.no_grad():
        model.fc.weight.mul_(20.0)  # logits of order 1, so 1e-5 relative is a tight tolerance
    x = torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(5))
    target = int(model(x).argmax())
    stages = dict(px.load_config(CONFIGS / "lime.yaml").explainer)
    stages.pop("name")
    stages.update(segmenter={"name": "grid", "cells": CELLS}, n_samples=N)
    pipeline = px.Pipeline(**stages)
    labels = px.build("segmenter", stages["segmenter"]).segment(x[0], torch.Generator()).labels
    ours = pipeline.explain(px.ModelAdapter(model, output="logit"), x, target=target, progress=False)
    rows = px.build("sampler", stages["sampler"]).sample(N, CELLS * CELLS, stream(stages["seed"], "sampler", 0)).z
    # lime_image's design: row 0 the original, then Bernoulli(0.5) per superpixel, so the number kept is
    # Binomial(16, 0.5) (variance 4; lime's text sampler, k uniform on 1..16, has variance about 21)
    kept = rows[1:].sum(1)
    assert (rows[0] == 1).all() and abs(float(kept.mean()) - 8) < 0.5 and float(kept.var()) < 6

    def classify(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(images).permute(0, 3, 1, 2).float()).numpy()

    explainer = lime_image.LimeImageExplainer(verbose=False)
    explainer.random_state = Replay(rows)
    theirs = explainer.explain_instance(
        x[0].permute(1, 2, 0).double().numpy(), classify, labels=(target,), top_labels=None, hide_color=None,
        num_samples=N, batch_size=50, segmentation_fn=lambda image: labels.numpy(),
    )
    coefficients = torch.zeros(CELLS * CELLS, dtype=torch.float64)
    for feature, weight in theirs.local_exp[target]:
        coefficients[feature] = weight
    scale = float(coefficients.abs().max())
    assert scale > 1e-2
    assert float((ours.features[0].scores.double() - coefficients).abs().max()) / scale < 1e-5
