"""Figures: what each picture draws (colour scales, kept segments, panels, labels) and that PNGs are written."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

import perturbx as px
from perturbx import viz
from perturbx.errors import PerturbxError
from perturbx.explanation import Explanation
from perturbx.metrics.base import Curve
from perturbx.metrics.results import Results
from tests.conftest import TinyCNN


def image(seed: int = 0, size: int = 16) -> torch.Tensor:
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_overlay_signed_map_centres_a_diverging_colormap_on_zero(tmp_path):
    saliency = torch.linspace(-1, 3, 16 * 16).reshape(1, 1, 16, 16)
    fig = viz.heatmap_figure(image(), saliency, title="signed")
    shown = fig.axes[0].images[1]
    assert shown.get_clim() == (-3.0, 3.0) and shown.get_cmap().name == "RdBu_r"
    unsigned = viz.heatmap_figure(image(), saliency.clamp(min=0) + 2).axes[0].images[1]
    assert unsigned.get_clim() == (2.0, 5.0) and unsigned.get_cmap().name == "jet"
    forced = viz.heatmap_figure(image(), saliency, signed=False, cmap="viridis", alpha=0.3).axes[0].images[1]
    assert forced.get_clim() == (-1.0, 3.0) and forced.get_alpha() == 0.3 and forced.get_cmap().name == "viridis"
    path = viz.save(fig, tmp_path / "sub" / "signed.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explanation_figure_keeps_the_cli_signature(tmp_path):
    fig = viz.explanation_figure(image(), torch.rand(1, 1, 16, 16), "tabby (class 281)", "rise, 10 queries")
    assert isinstance(fig, Figure) and fig.get_suptitle() == "tabby (class 281)"
    assert [ax.get_title() for ax in fig.axes[:2]] == ["input", "rise, 10 queries"]
    assert viz.save(fig, tmp_path / "e.png").stat().st_size > 1000


def test_pami_views_absolute_average_on_fixed_scale_and_normalised_map():
    average = torch.full((1, 1, 16, 16), 0.2)
    average[..., :8, :] = 0.3
    maps = (average - 0.2) / 0.1
    exp = Explanation(maps=maps, targets=torch.tensor([0]), n_queries=4, method="pami", meta={"average": average})
    fig = viz.pami_figure(image(), exp, title="pami")
    middle, right = fig.axes[1].images[1], fig.axes[2].images[1]
    assert middle.get_clim() == (0.0, 1.0) and right.get_clim() == (0.0, 1.0)
    assert np.allclose(middle.get_array(), average[0, 0].numpy())  # absolute probabilities, not rescaled
    assert np.allclose(right.get_array(), maps[0, 0].numpy())
    with pytest.raises(PerturbxError, match="meta\\['average'\\]"):
        viz.pami_figure(image(), Explanation(maps=maps, targets=None, n_queries=1, method="rise"))


def test_boundaries_and_top_k_segments_on_a_known_partition():
    labels = torch.zeros(4, 6, dtype=torch.long)
    labels[:, 3:] = 1
    labels[2:, :3] = 2
    edge = viz.boundaries(labels)
    assert edge[:, 2].all() and edge[:, 3].all() and not edge[0, 0] and not edge[0, 5]
    assert edge[1, 0] and edge[2, 0] and not edge[1, 4]
    x = torch.ones(1, 3, 4, 6)
    saliency = torch.zeros(1, 1, 4, 6)
    saliency[..., 2:, :3] = 5.0  # segment 2 first, then segment 1 (0.5) over segment 0 (0)
    saliency[..., :, 3:] = 0.5
    kept = viz.top_segments(x, saliency, labels, k=2, fill=0.0)
    assert (kept[2:, :3] == 1).all() and (kept[:, 3:] == 1).all() and (kept[:2, :3] == 0).all()
    marked = viz.mark_boundaries(x, labels, color=(1.0, 0.0, 0.0))
    assert np.allclose(marked[0, 2], [1, 0, 0]) and np.allclose(marked[0, 0], [1, 1, 1])
    fig = viz.segments_figure(x, labels, saliency, k=1)
    assert [ax.get_title() for ax in fig.axes] == ["3 segments", "top 1 segments kept"]
    with pytest.raises(PerturbxError, match="k must be in"):
        viz.top_segments(x, saliency, labels, k=4)


def test_methods_grid_has_one_row_per_image_and_titled_columns():
    x = torch.cat([image(0), image(1)])
    maps = {"rise": torch.rand(2, 1, 16, 16), "gradcam": Explanation(torch.rand(2, 1, 16, 16), None, 1, "gradcam")}
    fig = viz.methods_grid(x, maps, row_titles=["cat", "coffee"])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["cat", "rise", "gradcam", "coffee", "rise", "gradcam"]
    with pytest.raises(PerturbxError, match="maps\\['rise'\\]"):
        viz.methods_grid(x, {"rise": torch.rand(1, 1, 16, 16)})


def fake_results() -> Results:
    results = Results()
    x = torch.linspace(0, 1, 5)
    for b in range(2):
        for name, scale in (("a", 1.0), ("b", 0.5)):
            y = scale * (1 - x) + b * 0.1
            results.curves[(b, name, "deletion")] = Curve(x, y, "fraction of pixels deleted")
            results.rows.append({"image": b, "explainer": name, "metric": "deletion",
                                 "value": float(torch.trapezoid(y, x))})
    return results


def test_curves_are_labelled_with_their_auc_and_averaged_over_images():
    results = fake_results()
    fig = viz.curves_figure(results, image=1)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["a (AUC 0.600)", "b (AUC 0.350)"]
    mean = viz.curves_figure(results, image=None)
    assert np.allclose(mean.axes[0].lines[0].get_ydata(), (1 - np.linspace(0, 1, 5)) + 0.05)
    assert mean.axes[0].lines[0].get_label() == "a (AUC 0.550)"
    with pytest.raises(PerturbxError, match="no curves for"):
        viz.curves_figure(results, metrics=["insertion"])


def test_summary_bars_show_means_and_t_intervals():
    results = fake_results()
    fig = viz.summary_figure(results)
    bars = fig.axes[0].patches
    assert np.allclose([bar.get_height() for bar in bars], [0.55, 0.30])
    errorbar = next(c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer))
    caps = errorbar.lines[2][0].get_segments()
    half = 12.706204736 * np.std([0.5, 0.6], ddof=1) / np.sqrt(2)  # t(0.975, 1)
    assert np.allclose([caps[0][0][1], caps[0][1][1]], [0.55 - half, 0.55 + half], atol=1e-6)
    with pytest.raises(PerturbxError, match="no rows for"):
        viz.summary_figure(results, metrics=["lif"])


def test_figures_from_a_real_evaluation_on_a_tiny_model(tmp_path):
    model = TinyCNN()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    results = px.evaluate(model, x, explainers={"saliency": "saliency", "gradcam": "gradcam"},
                          metrics=[{"name": "deletion", "step": 128}, {"name": "mif_lif", "points": 5}])
    fig = viz.curves_figure(results, metrics=["deletion", "mif", "lif"], image=None)
    assert [len(ax.lines) for ax in fig.axes[:3]] == [2, 2, 2]
    assert fig.axes[1].lines[0].get_label().startswith("saliency (mean ")
    assert viz.save(viz.summary_figure(results), tmp_path / "s.png").exists()
