"""Cross-checks with Captum on the same model, image, feature mask, fill and coalitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from conftest import TinyCNN

import perturbx as px
from perturbx.seeding import stream

captum_attr = pytest.importorskip("captum.attr")
linear_models = pytest.importorskip("captum._utils.models.linear_model")

CELLS, SIZE, GREY = 4, 32, 0.5


@pytest.fixture(scope="module")
def setup() -> tuple[torch.nn.Module, torch.Tensor, int, torch.Tensor]:
    model = TinyCNN().eval()
    with torch.no_grad():
        model.fc.weight.mul_(20.0)  # larger logits, so feature scores are O(1) and 1e-5 is a tight tolerance
    x = torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(5))
    target = int(model(x).argmax())
    labels = px.build("segmenter", {"name": "grid", "cells": CELLS}).segment(x[0], torch.Generator()).labels
    return model, x, target, labels


def logits(model: torch.nn.Module) -> Callable:
    return lambda inputs: model(inputs)


def close(ours: torch.Tensor, theirs: torch.Tensor, tol: float = 1e-5) -> bool:
    """Agreement to ``tol`` relative to the largest score."""
    scale = float(theirs.abs().max())
    assert scale > 1e-2, "the comparison would be vacuous"
    return bool(((ours.double() - theirs.double()).abs().max() / scale) < tol)


def ours(model: torch.nn.Module, x: torch.Tensor, target: int, sampler: object, attributor: object, n: int = 1,
         cells: int = CELLS) -> px.Explanation:
    pipe = px.Pipeline(segmenter={"name": "grid", "cells": cells}, sampler=sampler,
                       substrate={"name": "constant", "color": GREY}, attributor=attributor, n_samples=n, seed=0)
    return pipe.explain(px.ModelAdapter(model, output="logit"), x, target=target, batch_size=32, progress=False)


def design(sampler: object, n: int, m: int) -> px.samplers.base.Coalitions:
    """The coalitions the pipeline draws: the grid segmenter takes nothing from the seeded generator."""
    return px.build("sampler", sampler).sample(n, m, stream(0, "sampler", 0))


def replay(rows: torch.Tensor) -> Callable:
    """A Captum perturbation generator that yields exactly ``rows``, in order."""
    def perturb(original: torch.Tensor, **kwargs: object) -> Iterator[torch.Tensor]:
        for row in rows:
            yield row[None].long()

    return perturb


def test_occlusion_equals_feature_ablation(setup: tuple) -> None:
    model, x, target, labels = setup
    exp = ours(model, x, target, "single", "occlusion")
    ablation = captum_attr.FeatureAblation(logits(model))
    theirs = ablation.attribute(x, target=target, baselines=GREY, feature_mask=labels[None, None])
    assert close(exp.maps[0, 0], theirs[0, 0])
    assert torch.allclose(theirs[0, 0], theirs[0, 2])


def test_occlusion_equals_captum_occlusion_windows(setup: tuple) -> None:
    model, x, target, _ = setup
    exp = ours(model, x, target, "single", "occlusion")
    window = (3, SIZE // CELLS, SIZE // CELLS)
    theirs = captum_attr.Occlusion(logits(model)).attribute(
        x, sliding_window_shapes=window, strides=window, baselines=GREY, target=target)
    assert close(exp.maps[0, 0], theirs[0, 0])


def kernelshap_weight(rows: torch.Tensor, weights: torch.Tensor) -> Callable:
    """Captum similarity: our row weights, and Captum's 1e6 for the all-kept / all-removed rows."""
    table = {tuple(r.tolist()): float(w) for r, w in zip(rows.long(), weights)}

    def similarity(original: torch.Tensor, perturbed: torch.Tensor, interpretable: torch.Tensor, **kwargs: object
                   ) -> torch.Tensor:
        m = interpretable.shape[1]
        size = int(interpretable.sum())
        return torch.tensor([1e6 if size in (0, m) else table[tuple(interpretable[0].long().tolist())]])

    return similarity


@pytest.mark.parametrize(("sampler", "n", "cells"), [
    ({"name": "kernelshap", "exhaustive": False}, 120, CELLS),
    ("exhaustive", 1, 2),
])
def test_kernelshap_matches_captum_on_same_coalitions(setup: tuple, sampler: object, n: int, cells: int) -> None:
    model, x, target, _ = setup
    m = cells * cells
    labels = px.build("segmenter", {"name": "grid", "cells": cells}).segment(x[0], torch.Generator()).labels
    exp = ours(model, x, target, sampler, "kernelshap", n=n, cells=cells)
    coalitions = design(sampler, n, m)
    weights = coalitions.weights
    if weights is None:
        weights = px.samplers.kernelshap.shapley_kernel(coalitions.z.sum(1), m)
    rows = torch.cat([torch.ones(1, m), coalitions.z])  # Captum's first row: the image itself
    lime = captum_attr.LimeBase(logits(model), linear_models.SkLearnLinearRegression(),
                                similarity_func=kernelshap_weight(coalitions.z, weights), perturb_func=replay(rows),
                                perturb_interpretable_space=True, from_interp_rep_transform=to_input(x, labels),
                                to_interp_rep_transform=None)
    theirs = lime.attribute(x, target=target, n_samples=len(rows), perturbations_per_eval=16)
    assert close(exp.features[0].scores, theirs.flatten())


def to_input(x: torch.Tensor, labels: torch.Tensor) -> Callable:
    """Coalition -> image with removed cells set to grey, as the pipeline's hard blend does."""
    def transform(interpretable: torch.Tensor, original: torch.Tensor, **kwargs: object) -> torch.Tensor:
        keep = interpretable[0].float()[labels]
        return GREY + keep * (original - GREY)

    return transform


def test_lime_matches_captum_on_same_coalitions(setup: tuple) -> None:
    model, x, target, labels = setup
    m, n = CELLS * CELLS, 150
    exp = ours(model, x, target, "lime", "lime", n=n)
    rows = design("lime", n, m).z
    kernel = px.build("attributor", "lime")

    def similarity(original: torch.Tensor, perturbed: torch.Tensor, interpretable: torch.Tensor, **kwargs: object
                   ) -> torch.Tensor:
        return kernel.weights(interpretable.float()).float()

    lime = captum_attr.Lime(logits(model), linear_models.SkLearnRidge(alpha=1.0), similarity_func=similarity,
                            perturb_func=replay(rows))
    theirs = lime.attribute(x, target=target, baselines=GREY, feature_mask=labels[None, None], n_samples=n,
                            perturbations_per_eval=16, return_input_shape=False)
    assert close(exp.features[0].scores, theirs.flatten())
