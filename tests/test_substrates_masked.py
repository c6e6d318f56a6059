"""Mask-dependent substrates: ROAD's noisy linear imputation and OpenCV inpainting."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
import torch

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.perturb.imputation import NEIGHBOURS, noisy_linear_impute

OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def slow_impute(image: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """A dense, obvious re-implementation: one equation per removed pixel, solved with numpy."""
    c, h, w = image.shape
    pixels = [(y, x) for y in range(h) for x in range(w) if removed[y, x]]
    index = {p: i for i, p in enumerate(pixels)}
    a, b = np.eye(len(pixels)), np.zeros((len(pixels), c))
    for i, (y, x) in enumerate(pixels):
        near = [(y + dy, x + dx, 1 / 6 if 0 in (dy, dx) else 1 / 12) for dy, dx in OFFSETS
                if 0 <= y + dy < h and 0 <= x + dx < w]
        total = sum(wt for _, _, wt in near)
        for ny, nx, wt in near:
            if (ny, nx) in index:
                a[i, index[(ny, nx)]] -= wt / total
            else:
                b[i] += wt / total * image[:, ny, nx].double().numpy()
    out = image.double().clone()
    for (y, x), v in zip(pixels, np.linalg.solve(a, b), strict=True):
        out[:, y, x] = torch.from_numpy(v)
    return out


def test_isolated_pixel_is_the_weighted_mean_of_its_neighbours() -> None:
    image = torch.rand(2, 5, 5, generator=torch.Generator().manual_seed(0))
    removed = torch.zeros(5, 5, dtype=torch.bool)
    removed[2, 3] = True
    out = noisy_linear_impute(image, removed, 0.0)
    direct = image[:, 1, 3] + image[:, 3, 3] + image[:, 2, 2] + image[:, 2, 4]
    diagonal = image[:, 1, 2] + image[:, 1, 4] + image[:, 3, 2] + image[:, 3, 4]
    torch.testing.assert_close(out[:, 2, 3], direct / 6 + diagonal / 12)
    assert torch.equal(out[:, ~removed], image[:, ~removed])
    assert sum(w for _, _, w in NEIGHBOURS) == pytest.approx(1.0)


def test_corner_pixel_renormalises_the_weights() -> None:
    image = torch.rand(1, 3, 3, generator=torch.Generator().manual_seed(1))
    removed = torch.zeros(3, 3, dtype=torch.bool)
    removed[0, 0] = True
    out = noisy_linear_impute(image, removed, 0.0)
    expected = (image[0, 0, 1] / 6 + image[0, 1, 0] / 6 + image[0, 1, 1] / 12) / (5 / 12)
    torch.testing.assert_close(out[0, 0, 0], expected)


def test_linear_ramp_is_reproduced_in_the_interior() -> None:
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 24), torch.linspace(0, 1, 24), indexing="ij")
    image = torch.stack([0.3 * ys + 0.5 * xs, 1 - xs])
    removed = torch.zeros(24, 24, dtype=torch.bool)
    removed[4:20, 6:18] = True
    removed[10, 2:22] = True
    torch.testing.assert_close(noisy_linear_impute(image, removed, 0.0), image, atol=1e-6, rtol=0)


def test_joint_solution_matches_a_dense_reimplementation() -> None:
    g = torch.Generator().manual_seed(2)
    image = torch.rand(3, 9, 11, generator=g)
    removed = torch.rand(9, 11, generator=g) < 0.6
    torch.testing.assert_close(noisy_linear_impute(image, removed, 0.0).double(), slow_impute(image, removed))


def test_noise_is_seeded_and_only_on_removed_pixels() -> None:
    image = torch.full((3, 40, 40), 0.5)
    removed = torch.zeros(40, 40, dtype=torch.bool)
    removed[5:35, 5:35] = True
    a = noisy_linear_impute(image, removed, 0.01, torch.Generator().manual_seed(7))
    b = noisy_linear_impute(image, removed, 0.01, torch.Generator().manual_seed(7))
    c = noisy_linear_impute(image, removed, 0.01, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a[:, ~removed], image[:, ~removed])
    assert (a[:, removed] - 0.5).std().item() == pytest.approx(0.01, rel=0.05)


def test_everything_removed_falls_back_to_the_mean_colour() -> None:
    image = torch.rand(3, 6, 6)
    out = noisy_linear_impute(image, torch.ones(6, 6, dtype=torch.bool), 0.0)
    torch.testing.assert_close(out, image.mean((1, 2), keepdim=True).expand_as(image))


@pytest.mark.parametrize("spec", [{"name": "noisy_linear"}, {"name": "inpaint"}, {"name": "inpaint", "method": "ns"}])
def test_region_fills_keep_kept_pixels_and_ignore_chunking(spec: dict) -> None:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 16, 16, generator=g)
    keep = (torch.rand(5, 4, 4, generator=g) > 0.5).float().repeat_interleave(4, 1).repeat_interleave(4, 2)
    keep[0] = 1.0
    substrate = px.build("substrate", spec)
    whole = substrate.bind(image, None, torch.Generator().manual_seed(3))(keep)
    fill = substrate.bind(image, None, torch.Generator().manual_seed(3))
    chunks = torch.cat([fill(keep[i : i + 2]) for i in range(0, 5, 2)])
    assert torch.equal(whole, chunks)
    assert torch.equal(whole[0], image)  # nothing removed: the image unchanged
    for f, k in zip(whole, keep, strict=True):
        assert torch.equal(f[:, k == 1], image[:, k == 1])
    assert whole.min() >= -0.05 and whole.max() <= 1.05  # convex fills (plus 0.01 noise for noisy_linear)


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_inpaint_matches_opencv_on_the_removed_region(method: str) -> None:
    g = torch.Generator().manual_seed(4)
    image = (torch.rand(3, 20, 20, generator=g) * 255).round() / 255
    keep = torch.ones(1, 20, 20)
    keep[0, 6:14, 3:11] = 0.2
    out = px.build("substrate", {"name": "inpaint", "method": method, "radius": 2}).bind(image, None, g)(keep)[0]
    mask = (keep[0] < 0.5).numpy().astype(np.uint8)
    flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
    pixels = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    expected = torch.from_numpy(cv2.inpaint(pixels, mask, 2, flag)).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(out, expected)


def test_threshold_decides_which_pixels_are_filled() -> None:
    image = torch.rand(1, 8, 8)
    keep = torch.ones(1, 8, 8)
    keep[0, 2:6, 2:6] = 0.7
    half = px.build("substrate", {"name": "noisy_linear", "noise_std": 0.0}).bind(image, None, torch.Generator())(keep)
    full = px.build("substrate", {"name": "noisy_linear", "noise_std": 0.0, "threshold": 1.0}).bind(
        image, None, torch.Generator())(keep)
    assert torch.equal(half[0], image)
    assert not torch.equal(full[0, :, 2:6, 2:6], image[:, 2:6, 2:6])
    assert torch.equal(full[0, :, 0, :], image[:, 0, :])


def test_inpaint_without_opencv_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(PerturbxError, match="opencv-python-headless"):
        px.build("substrate", "inpaint")
