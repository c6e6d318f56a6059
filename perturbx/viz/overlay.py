"""Heatmaps over photos: the picture the CLI writes and notebooks show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """``[1,3,H,W]`` or ``[3,H,W]`` in [0,1] -> ``[H,W,3]`` array."""
    image = image.detach().cpu()
    if image.dim() == 4:
        image = image[0]
    return image.permute(1, 2, 0).clamp(0, 1).numpy()


def to_numpy_map(saliency: torch.Tensor) -> np.ndarray:
    """``[1,1,H,W]``, ``[1,H,W]`` or ``[H,W]`` -> ``[H,W]`` float array."""
    return saliency.detach().cpu().float().reshape(saliency.shape[-2:]).numpy()


def overlay(
    ax: Axes,
    image: torch.Tensor,
    saliency: torch.Tensor,
    alpha: float = 0.5,
    cmap: str | None = None,
    signed: bool | None = None,
) -> ScalarMappable:
    """Draw the photo and the map on top: min-max scaled with ``jet``, or centred on zero with a
    diverging colormap when the map is signed (has both signs, unless ``signed`` says otherwise)."""
    values = to_numpy_map(saliency)
    if signed is None:
        signed = bool(values.min() < 0 < values.max())
    ax.imshow(to_numpy_image(image))
    if signed:
        bound = float(np.abs(values).max()) or 1.0
        shown = ax.imshow(values, cmap=cmap or "RdBu_r", alpha=alpha, vmin=-bound, vmax=bound)
    else:
        lo, hi = float(values.min()), float(values.max())
        shown = ax.imshow(values, cmap=cmap or "jet", alpha=alpha, vmin=lo, vmax=hi if hi > lo else lo + 1e-12)
    ax.set_axis_off()
    return shown


def heatmap_figure(
    image: torch.Tensor,
    saliency: torch.Tensor,
    title: str = "",
    alpha: float = 0.5,
    cmap: str | None = None,
    signed: bool | None = None,
) -> Figure:
    """One panel: the map over the photo with its colour bar (signed maps centred on zero)."""
    fig = Figure(figsize=(4.6, 4.0), layout="constrained")
    ax = fig.subplots()
    shown = overlay(ax, image, saliency, alpha=alpha, cmap=cmap, signed=signed)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    return fig


def explanation_figure(
    image: torch.Tensor, saliency: torch.Tensor, title: str, method: str = "", stderr: torch.Tensor | None = None
) -> Figure:
    """Two panels: the photo, and the photo with the heatmap overlaid; ``title`` names the class. Given the
    map's standard error, a third panel shows it, titled with its largest value as a share of the map's range."""
    fig = Figure(figsize=(12 if stderr is not None else 8, 4.3), layout="constrained")
    axes = fig.subplots(1, 3 if stderr is not None else 2)
    left, right = axes[0], axes[1]
    left.imshow(to_numpy_image(image))
    left.set_axis_off()
    left.set_title("input")
    shown = overlay(right, image, saliency)
    right.set_title(method or "attribution")
    fig.colorbar(shown, ax=right, fraction=0.046, pad=0.04)
    if stderr is not None:
        values = to_numpy_map(saliency)
        spread = float(values.max() - values.min()) or 1.0
        error = axes[2].imshow(to_numpy_map(stderr), cmap="magma", vmin=0.0, vmax=float(stderr.max()) or 1e-12)
        axes[2].set_axis_off()
        axes[2].set_title(f"standard error (max {float(stderr.max()) / spread:.1%} of the map's range)")
        fig.colorbar(error, ax=axes[2], fraction=0.046, pad=0.04)
    fig.suptitle(title)
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG (figures are made without pyplot, so nothing needs closing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
