"""The synthetic ground-truth benchmark: a deterministic generator with exact object masks, the shipped
CNN, and attribution methods that put their relevance on the object that decides the class."""

from __future__ import annotations

import math

import pytest
import torch

import perturbx
from perturbx import registry
from perturbx.data import SyntheticSet, synthetic
from perturbx.data.synthetic import CLASS_COLOURS, CLASS_SHAPES, CLASSES, COLOURS, SHAPES, _draw
from perturbx.errors import PerturbxError
from perturbx.metrics.localisation import RelevanceMassAccuracy
from perturbx.models import ImageClassifier, ModelAdapter
from perturbx.models import synthetic_cnn as synthetic_cnn_module


def _nearest_colour(rgb: torch.Tensor) -> str:
    return min(COLOURS, key=lambda name: float((rgb - torch.tensor(COLOURS[name])).abs().max()))


def test_same_seed_same_images_and_image_i_independent_of_n() -> None:
    a, b = synthetic(10, seed=3), synthetic(10, seed=3)
    part = synthetic(4, seed=3, start=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert torch.equal(synthetic(3, seed=3).images, a.images[:3])
    assert torch.equal(part.images, a.images[6:]) and torch.equal(part.masks, a.masks[6:])
    assert torch.equal(part.labels, a.labels[6:])
    assert not torch.equal(synthetic(10, seed=4).images, a.images)


def test_types_ranges_and_class_balance() -> None:
    data = synthetic(60, seed=0, size=48)
    assert isinstance(data, SyntheticSet) and len(data) == 60
    assert data.images.shape == (60, 3, 48, 48) and data.images.dtype == torch.float32
    assert data.masks.shape == (60, 1, 48, 48) and data.masks.dtype == torch.bool
    assert data.labels.dtype == torch.long and data.classes == list(CLASSES) and len(CLASSES) == 6
    assert data.images.min() >= 0 and data.images.max() <= 1
    assert data.labels.bincount(minlength=6).tolist() == [10] * 6
    assert (data.masks.flatten(1).sum(1) > 0).all()


def test_masks_are_exactly_the_target_objects_pixels() -> None:
    data = synthetic(36, seed=5)
    for image, mask, label in zip(data.images, data.masks[:, 0], data.labels):
        colour = image[:, mask][:, 0]
        # the object is flat: every mask pixel has its colour, and no pixel outside the mask has it
        assert torch.equal(image.eq(colour[:, None, None]).all(0), mask)
        name = CLASSES[label]
        assert _nearest_colour(colour) == name.split()[0]
        rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
        fill = float(mask.sum()) / ((rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1))
        expected = {"square": 1.0, "disc": math.pi / 4, "triangle": 0.5}[name.split()[1]]
        assert abs(fill - expected) < 0.12, (name, fill)


def test_distractors_never_form_a_class() -> None:
    seen = set()
    for index in range(300):
        params = _draw(7, index, 64)
        for slot in range(1, len(params["shapes"])):
            if params["present"][slot]:
                shape = int(params["shapes"][slot])
                colour = _nearest_colour(torch.from_numpy(params["colours"][slot]))
                assert not (shape in CLASS_SHAPES and colour in CLASS_COLOURS)
                seen.add((SHAPES[shape], colour))
    # every shape and every colour occurs among distractors, so neither alone names the class
    assert {shape for shape, _ in seen} == set(SHAPES)
    assert {colour for _, colour in seen} == set(COLOURS)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n": 0}, "n"),
        ({"n": 2, "seed": -1}, "seed"),
        ({"n": 2, "size": 16}, "size"),
        ({"n": 2, "start": 1.5}, "start"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, name: str) -> None:
    with pytest.raises(PerturbxError, match=f"synthetic: {name} "):
        synthetic(**kwargs)


@pytest.fixture(scope="module")
def model() -> ImageClassifier:
    return perturbx.models.load("synthetic_cnn")


@pytest.fixture(scope="module")
def held_out() -> SyntheticSet:
    return synthetic(240, seed=2)


def test_shipped_model_is_accurate_on_held_out_images(model: ImageClassifier, held_out: SyntheticSet) -> None:
    assert model.categories == list(CLASSES) and model.target_layer == "net.features.3"
    assert not model.training
    with torch.inference_mode():
        accuracy = (model(held_out.images).argmax(1) == held_out.labels).float().mean()
    assert accuracy >= 0.9


def test_missing_weights_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthetic_cnn_module, "WEIGHTS", "weights/no_such_file.pt")
    with pytest.raises(PerturbxError, match="synthetic_cnn weights"):
        perturbx.models.load("synthetic_cnn")
    assert perturbx.models.load("synthetic_cnn", pretrained=False).categories == list(CLASSES)


def relevance_mass(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of each map's positive relevance inside the object mask."""
    metric = RelevanceMassAccuracy()
    return torch.tensor([metric.value(m[0].double(), r[0]) for m, r in zip(maps, masks)])


GRID = {"name": "grid", "cells": 8}
EXPLAINERS = {
    "rise": lambda: perturbx.Pipeline(
        segmenter={**GRID, "edges": "bilinear", "shift": True}, sampler="bernoulli", attributor="rise",
        n_samples=300,
    ),
    "kernelshap": lambda: perturbx.Pipeline(
        segmenter=GRID, sampler="kernelshap", attributor="kernelshap", n_samples=300
    ),
    "gradcam": lambda: registry.build("explainer", "gradcam"),
}


@pytest.mark.parametrize("method", sorted(EXPLAINERS))
def test_methods_put_relevance_on_the_object(method: str, model: ImageClassifier, held_out: SyntheticSet) -> None:
    with torch.inference_mode():
        correct = (model(held_out.images).argmax(1) == held_out.labels).nonzero().flatten()[:6]
    x, masks, labels = held_out.images[correct], held_out.masks[correct], held_out.labels[correct]
    adapter = ModelAdapter(model, output="logit") if method == "gradcam" else model
    maps = EXPLAINERS[method]().explain(adapter, x, labels, batch_size=300, progress=False).maps
    random = relevance_mass(torch.rand(maps.shape, generator=torch.Generator().manual_seed(0)), masks).mean()
    area = masks.float().mean()
    assert abs(random - area) < 0.02  # a random map spreads its mass evenly
    found = relevance_mass(maps, masks).mean()
    if method == "rise":
        # every RISE value carries the mean score E[y]; the raw map is still denser on the object, and
        # its relevance proper, E[y | pixel kept] − E[y], lies on the object
        assert found > random + 0.005
        found = relevance_mass(maps - maps.mean(dim=(2, 3), keepdim=True), masks).mean()
    assert found > random + 0.15 and found > 3 * area, (method, float(found), float(random), float(area))
