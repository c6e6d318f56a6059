"""Segmenters: the same labels as the scikit-image calls they wrap, and well-formed soft masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.filters
import skimage.segmentation as sks
import torch
from skimage.color import rgb2gray

import perturbx as px
from perturbx.errors import ConfigError, PerturbxError
from perturbx.perturb.filters import gaussian_blur
from perturbx.segmenters.segmentation import Segmentation


def picture(seed: int = 0, size: int = 48) -> torch.Tensor:
    """Four coloured quadrants, a bright disc and mild noise: structure every segmenter can find."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3))
    half = size // 2
    img[:half, :half] = (0.9, 0.2, 0.1)
    img[:half, half:] = (0.1, 0.7, 0.2)
    img[half:, :half] = (0.2, 0.3, 0.8)
    img[half:, half:] = (0.6, 0.6, 0.1)
    yy, xx = np.mgrid[:size, :size]
    img[(yy - half) ** 2 + (xx - half) ** 2 < (size // 5) ** 2] = (1.0, 1.0, 0.9)
    img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1)
    return torch.from_numpy(img).permute(2, 0, 1).float()


def relabel(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].reshape(labels.shape)


def as_numpy(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).double().numpy()


CASES = {
    "slic": ({"n_segments": 12, "compactness": 10.0},
             lambda a: sks.slic(a, n_segments=12, compactness=10.0, channel_axis=-1)),
    "felzenszwalb": ({"scale": 50.0, "smoothing": 0.5, "min_size": 20},
                     lambda a: sks.felzenszwalb(a, scale=50.0, sigma=0.5, min_size=20, channel_axis=-1)),
    "quickshift": ({"ratio": 0.5, "kernel_size": 3.0, "max_dist": 6.0},
                   lambda a: sks.quickshift(a, ratio=0.5, kernel_size=3, max_dist=6, channel_axis=-1)),
    "watershed": ({"markers": 9, "compactness": 1e-4},
                  lambda a: sks.watershed(skimage.filters.sobel(rgb2gray(a)), markers=9, compactness=1e-4)),
}
SEGMENTERS = [{"name": name, **params} for name, (params, _) in CASES.items()] + [
    {"name": "callable", "function": "skimage.segmentation:felzenszwalb", "kwargs": {"scale": 30}},
    {"name": "partitions", "segmenters": [{"name": "slic", "n_segments": 6}, {"name": "watershed", "markers": 4}]},
    {"name": "grid", "cells": 4},
]


@pytest.mark.parametrize("name", list(CASES))
def test_labels_match_scikit_image(name: str) -> None:
    params, reference = CASES[name]
    x = picture()
    seg = px.build("segmenter", {"name": name, **params}).segment(x, torch.Generator())
    expected = relabel(reference(as_numpy(x)))
    assert seg.n_features == expected.max() + 1 > 2
    np.testing.assert_array_equal(seg.labels.numpy(), expected)
    assert seg.hard


@pytest.mark.parametrize("spec", SEGMENTERS, ids=lambda s: s["name"])
@pytest.mark.parametrize("edges", ["hard", "gaussian", "bilinear"])
def test_every_edge_mode_gives_normalised_soft_masks(spec: dict, edges: str) -> None:
    x = picture(1, 40)
    seg = px.build("segmenter", {**spec, "edges": edges}).segment(x, torch.Generator())
    m = seg.n_features
    assert seg.masks.shape == (m, 40, 40) and seg.labels.shape == (40, 40)
    assert torch.isfinite(seg.masks).all() and seg.masks.min() >= 0
    assert int(seg.labels.min()) >= 0 and int(seg.labels.max()) < m
    normalised = seg.masks / seg.coverage
    torch.testing.assert_close(normalised.sum(0), torch.ones(40, 40))
    z = torch.rand(5, m, generator=torch.Generator().manual_seed(0))
    keep = seg.keep_masks(z, torch.arange(5))
    assert keep.shape == (5, 40, 40) and keep.min() >= 0 and keep.max() <= 1 + 1e-6
    ends = seg.keep_masks(torch.stack([torch.ones(m), torch.zeros(m)]), torch.arange(2))
    torch.testing.assert_close(ends, torch.stack([torch.ones(40, 40), torch.zeros(40, 40)]))
    if edges != "hard":
        assert float(keep.frac().abs().max()) > 0  # the edges really are soft


def test_gaussian_fade_defaults_to_70_over_sqrt_m() -> None:
    x = picture()
    seg = px.build("segmenter", {"name": "watershed", "markers": 9, "edges": "gaussian"}).segment(
        x, torch.Generator())
    hard = Segmentation.from_labels(seg.labels)
    sigma = 70 / math.sqrt(hard.n_features)
    torch.testing.assert_close(seg.masks, gaussian_blur(hard.masks[None], sigma)[0])
    chosen = px.build("segmenter", {"name": "watershed", "markers": 9, "edges": "gaussian", "sigma": 2.0})
    torch.testing.assert_close(chosen.segment(x, torch.Generator()).masks, gaussian_blur(hard.masks[None], 2.0)[0])


def test_bilinear_ramp_on_grid_labels_equals_bilinear_grid_cells() -> None:
    x = torch.rand(3, 36, 36)
    tents = px.build("segmenter", {"name": "grid", "cells": 4, "edges": "bilinear"}).segment(x, torch.Generator())
    cells = px.build("segmenter", {"name": "grid", "cells": 4}).segment(x, torch.Generator())
    ramps = Segmentation.from_labels(cells.labels, edges="bilinear")  # default width sqrt(HW/M) = 9 = cell size
    torch.testing.assert_close(ramps.masks / ramps.coverage, tents.masks / tents.coverage)


def test_from_labels_keeps_its_old_signature() -> None:
    labels = torch.tensor([[5, 5, -1], [7, 7, -1], [7, 7, 5]])
    hard = Segmentation.from_labels(labels)
    assert hard.hard and hard.labels.tolist() == [[1, 1, 0], [2, 2, 0], [2, 2, 1]]
    torch.testing.assert_close(Segmentation.from_labels(labels, 1.5).masks,
                               Segmentation.from_labels(labels, 1.5, edges="gaussian").masks)
    with pytest.raises(PerturbxError, match="edges"):
        Segmentation.from_labels(labels, edges="round")


def blocks(image: np.ndarray) -> np.ndarray:
    """Arbitrary label values: negative, sparse and large."""
    h, w = image.shape[:2]
    out = np.full((h, w), 1000)
    out[: h // 2] = -5
    out[h // 2 :, : w // 3] = 7
    return out


def test_callable_relabels_arbitrary_values() -> None:
    x = picture()
    seg = px.build("segmenter", {"name": "callable", "function": blocks}).segment(x, torch.Generator())
    np.testing.assert_array_equal(seg.labels.numpy(), relabel(blocks(as_numpy(x))))
    assert seg.n_features == 3 and set(seg.labels.unique().tolist()) == {0, 1, 2}
    as_float = px.build("segmenter", {"name": "callable", "function": lambda a: blocks(a).astype(float)})
    assert torch.equal(as_float.segment(x, torch.Generator()).labels, seg.labels)
    on_tensor = px.build("segmenter", {"name": "callable", "input": "tensor",
                                       "function": lambda t: (t[0] > 0.5).long() * 3 - 4})
    assert on_tensor.segment(x, torch.Generator()).n_features == 2
    assert px.build("segmenter", {"name": "callable", "function": blocks}).spec()["function"].endswith(":blocks")


def test_callable_rejects_bad_functions_and_label_maps() -> None:
    with pytest.raises(ConfigError, match="function"):
        px.build("segmenter", {"name": "callable", "function": "skimage.segmentation:no_such_thing"})
    x = picture()
    wrong_shape = px.build("segmenter", {"name": "callable", "function": lambda a: np.zeros((3, 3), int)})
    with pytest.raises(PerturbxError, match=r"shape \(48, 48\)"):
        wrong_shape.segment(x, torch.Generator())
    fractional = px.build("segmenter", {"name": "callable", "function": lambda a: a[..., 0]})
    with pytest.raises(PerturbxError, match="whole numbers"):
        fractional.segment(x, torch.Generator())


def test_parameters_are_validated_with_named_fields() -> None:
    with pytest.raises(ConfigError, match=r"slic\.n_segment"):
        px.build("segmenter", {"name": "slic", "n_segment": 5})
    with pytest.raises(ConfigError, match=r"felzenszwalb\.scale"):
        px.build("segmenter", {"name": "felzenszwalb", "scale": -1})
    with pytest.raises(ConfigError, match="edges"):
        px.build("segmenter", {"name": "watershed", "edges": "fuzzy"})
