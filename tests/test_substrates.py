"""Mask-independent substrates: hand-computed fills, seeded noise, replacement images."""

from __future__ import annotations

import pytest
import torch

import perturbx as px
from perturbx.errors import ConfigError, PerturbxError
from perturbx.models.named import IMAGENET_MEAN
from perturbx.segmenters.segmentation import Segmentation

ONE_SEGMENT = Segmentation.from_labels(torch.zeros(4, 4, dtype=torch.long))


def fill(spec: object, image: torch.Tensor, seg: Segmentation = ONE_SEGMENT, seed: int = 0) -> torch.Tensor:
    return px.build("substrate", spec).prepare(image, seg, torch.Generator().manual_seed(seed))


def test_mean_and_median_colour() -> None:
    image = torch.tensor([[[0.1, 0.2], [0.4, 0.9]], [[0.3, 0.3], [0.3, 0.7]], [[1.0, 0.0], [0.0, 0.0]]])
    seg = Segmentation.from_labels(torch.zeros(2, 2))
    mean = fill("mean", image, seg)
    median = fill("median", image, seg)
    torch.testing.assert_close(mean[:, 1, 0], torch.tensor([0.4, 0.4, 0.25]))
    torch.testing.assert_close(median[:, 0, 1], torch.tensor([0.3, 0.3, 0.0]))  # even count: middle pair's mean
    assert (mean == mean[:, :1, :1]).all() and (median == median[:, :1, :1]).all()
    odd = torch.tensor([[[0.5, 0.1, 0.8]]])
    assert float(fill("median", odd, Segmentation.from_labels(torch.zeros(1, 3)))[0, 0, 2]) == pytest.approx(0.5)


def test_constant_colours() -> None:
    image = torch.rand(3, 4, 4)
    assert (fill("constant", image) == 0).all()
    assert (fill({"name": "constant", "color": "grey"}, image) == 0.5).all()
    torch.testing.assert_close(fill({"name": "constant", "color": "imagenet_mean"}, image)[:, 2, 3],
                               torch.tensor(IMAGENET_MEAN))
    torch.testing.assert_close(fill({"name": "constant", "color": [0.1, 0.2, 0.3]}, image)[:, 0, 0],
                               torch.tensor([0.1, 0.2, 0.3]))


def test_segment_mean_is_each_segments_own_mean() -> None:
    image = torch.tensor([[[0.0, 0.2, 0.5, 0.7], [0.4, 0.6, 0.3, 1.0]]])
    labels = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 2]])
    out = fill("segment_mean", image, Segmentation.from_labels(labels))
    torch.testing.assert_close(out[0], torch.tensor([[0.3, 0.3, 0.5, 0.5], [0.3, 0.3, 0.5, 1.0]]))


def test_segment_mean_with_soft_masks_weights_by_the_masks() -> None:
    image = torch.rand(2, 6, 6, generator=torch.Generator().manual_seed(1))
    seg = Segmentation.from_labels(torch.arange(36).view(6, 6) // 12, 1.0)
    out = fill("segment_mean", image, seg)
    weights = seg.masks / seg.coverage
    colours = [(image * m).sum((1, 2)) / m.sum() for m in seg.masks]
    expected = sum(w[None] * c[:, None, None] for w, c in zip(weights, colours, strict=True))
    torch.testing.assert_close(out, expected)


def test_random_colour_is_uniform_per_image_and_seeded() -> None:
    image = torch.rand(3, 4, 4)
    a, b, c = fill("random_color", image, seed=1), fill("random_color", image, seed=1), fill("random_color", image)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a == a[:, :1, :1]).all() and a.min() >= 0 and a.max() <= 1


def test_uniform_noise_range_and_seed() -> None:
    image = torch.rand(3, 40, 40)
    spec = {"name": "uniform_noise", "low": 0.2, "high": 0.6}
    a = fill(spec, image, seed=3)
    assert torch.equal(a, fill(spec, image, seed=3)) and not torch.equal(a, fill(spec, image, seed=4))
    assert a.min() >= 0.2 and a.max() <= 0.6 and a.mean().item() == pytest.approx(0.4, abs=0.02)
    with pytest.raises(ConfigError, match="low"):
        px.build("substrate", {"name": "uniform_noise", "low": 0.7, "high": 0.6})


def test_gaussian_noise_moments_and_centre() -> None:
    image = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    grey = fill({"name": "gaussian_noise", "mean": 0.5, "std": 0.05}, image)
    assert grey.mean().item() == pytest.approx(0.5, abs=0.005) and grey.std().item() == pytest.approx(0.05, rel=0.05)
    around = fill({"name": "gaussian_noise", "std": 0.05}, image) - image
    assert around.mean().item() == pytest.approx(0.0, abs=0.005)
    assert around.std().item() == pytest.approx(0.05, rel=0.05)
    assert torch.equal(fill("gaussian_noise", image, seed=2), fill("gaussian_noise", image, seed=2))


def test_histogram_draws_colours_in_proportion() -> None:
    image = torch.zeros(3, 32, 32)
    image[:, :, :8] = torch.tensor([0.9, 0.1, 0.2])[:, None, None]  # a quarter of the pixels
    image[:, :, 8:] = torch.tensor([0.3, 0.6, 0.4])[:, None, None]
    per_pixel = fill({"name": "histogram", "per_pixel": True}, image, seed=5)
    first = (per_pixel[0] - 0.9).abs() < 1e-6
    assert first.float().mean().item() == pytest.approx(0.25, abs=0.04)
    assert first.logical_or((per_pixel[0] - 0.3).abs() < 1e-6).all()
    one = fill("histogram", image, seed=5)
    assert (one == one[:, :1, :1]).all() and min(abs(float(one[0, 0, 0]) - v) for v in (0.9, 0.3)) < 1e-6
    assert torch.equal(per_pixel, fill({"name": "histogram", "per_pixel": True}, image, seed=5))


def test_histogram_bin_colour_is_the_mean_of_its_pixels() -> None:
    image = torch.tensor([[[0.1, 0.3]], [[0.1, 0.3]], [[0.1, 0.3]]])  # both in the lower of 2 bins
    out = fill({"name": "histogram", "bins": 2}, image, Segmentation.from_labels(torch.zeros(1, 2)))
    torch.testing.assert_close(out, torch.full((3, 1, 2), 0.2))


def test_replacement_image_is_resized_and_matched() -> None:
    other = torch.rand(3, 4, 4)
    assert torch.equal(fill({"name": "image", "source": other}, torch.rand(3, 4, 4)), other)
    wide = fill({"name": "image", "source": torch.rand(1, 3, 10, 20)}, torch.rand(3, 6, 8), Segmentation.from_labels(
        torch.zeros(6, 8)))
    assert wide.shape == (3, 6, 8)
    grey = fill({"name": "image", "source": other}, torch.rand(1, 4, 4))
    torch.testing.assert_close(grey, other.mean(0, keepdim=True))
    assert fill("image", torch.rand(3, 4, 4)).shape == (3, 4, 4)  # bundled photo
    with pytest.raises(ConfigError, match="bundled"):
        px.build("substrate", {"name": "image", "source": "no_such_photo"})
    with pytest.raises(PerturbxError, match="2-channel"):
        fill({"name": "image", "source": torch.rand(2, 4, 4)}, torch.rand(3, 4, 4))


def test_replacement_images_draw_per_sample_whatever_the_chunking() -> None:
    sources = torch.rand(4, 3, 5, 5)
    substrate = px.build("substrate", {"name": "images", "sources": sources})
    keep = torch.zeros(6, 5, 5)
    whole = substrate.bind(torch.rand(3, 5, 5), None, torch.Generator().manual_seed(0))(keep)
    fill = substrate.bind(torch.rand(3, 5, 5), None, torch.Generator().manual_seed(0))
    chunks = torch.cat([fill(keep[i : i + 2]) for i in range(0, 6, 2)])
    assert torch.equal(whole, chunks)
    assert all(any(torch.equal(f, s) for s in sources) for f in whole)
    assert len({int((f == sources).flatten(1).all(1).nonzero()) for f in whole}) > 1
    assert substrate.spec()["sources"] == ["<tensor [3, 5, 5]>"] * 4


@pytest.mark.parametrize("name", sorted(px.catalogue("substrate")["substrate"]))
def test_every_substrate_gives_finite_fills_of_the_right_shape(name: str) -> None:
    image = torch.rand(3, 12, 12, generator=torch.Generator().manual_seed(0))
    seg = Segmentation.from_labels(torch.arange(144).view(12, 12) // 40)
    substrate = px.build("substrate", name)
    g = torch.Generator().manual_seed(0)
    keep = (torch.rand(3, 12, 12, generator=g) > 0.5).float()
    out = substrate.bind(image, seg, g)(keep)
    assert out.shape in {(3, 12, 12), (3, 3, 12, 12)} and torch.isfinite(out).all()
    assert out.shape == substrate.bind(image, None, g)(keep).shape  # also without a segmentation (metric curves)
