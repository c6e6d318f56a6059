"""Segments on the photo: their boundaries, and the image with only the top-k segments kept."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from perturbx.errors import PerturbxError
from perturbx.viz.overlay import to_numpy_image, to_numpy_map


def boundaries(labels: torch.Tensor | np.ndarray) -> np.ndarray:
    """``[H,W]`` bool: pixels whose right or lower neighbour has another label (and that neighbour)."""
    lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if lab.ndim != 2:
        raise PerturbxError(f"labels must be [H,W], got shape {tuple(lab.shape)}")
    edge = np.zeros(lab.shape, dtype=bool)
    right = lab[:, 1:] != lab[:, :-1]
    down = lab[1:, :] != lab[:-1, :]
    edge[:, 1:] |= right
    edge[:, :-1] |= right
    edge[1:, :] |= down
    edge[:-1, :] |= down
    return edge


def mark_boundaries(image: torch.Tensor, labels: torch.Tensor | np.ndarray,
                    color: tuple[float, float, float] = (1.0, 1.0, 0.0)) -> np.ndarray:
    """``[H,W,3]`` photo with segment boundaries painted in ``color``."""
    picture = to_numpy_image(image).copy()
    picture[boundaries(labels)] = color
    return picture


def segment_scores(saliency: torch.Tensor, labels: torch.Tensor | np.ndarray) -> np.ndarray:
    """Mean map value per segment (segments numbered 0..M-1)."""
    values = to_numpy_map(saliency).ravel().astype(np.float64)
    lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).ravel()
    if values.size != lab.size:
        raise PerturbxError(f"labels ({lab.size} px) and saliency ({values.size} px) differ in size")
    count = np.bincount(lab, minlength=lab.max() + 1)
    return np.bincount(lab, weights=values, minlength=lab.max() + 1) / np.maximum(count, 1)


def top_segments(image: torch.Tensor, saliency: torch.Tensor, labels: torch.Tensor | np.ndarray, k: int,
                 fill: float = 0.5) -> np.ndarray:
    """``[H,W,3]`` photo keeping only the ``k`` segments of highest mean saliency; the rest is ``fill`` grey
    (ties broken by the lower segment index)."""
    scores = segment_scores(saliency, labels)
    if not 1 <= k <= scores.size:
        raise PerturbxError(f"k must be in [1, {scores.size}] (the number of segments), got {k}")
    keep = np.argsort(-scores, kind="stable")[:k]
    lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    picture = to_numpy_image(image).copy()
    picture[~np.isin(lab, keep)] = fill
    return picture


def segments_figure(image: torch.Tensor, labels: torch.Tensor | np.ndarray, saliency: torch.Tensor | None = None,
                    k: int = 5, title: str = "") -> Figure:
    """The segment boundaries on the photo and, given a map, the photo with its top-``k`` segments kept."""
    panels = 1 if saliency is None else 2
    fig = Figure(figsize=(4.2 * panels, 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, panels))
    n_segments = len(np.unique(np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)))
    axes[0].imshow(mark_boundaries(image, labels))
    axes[0].set_title(f"{n_segments} segments")
    if saliency is not None:
        axes[1].imshow(top_segments(image, saliency, labels, k))
        axes[1].set_title(f"top {k} segments kept")
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig
