"""A grid of maps: one row per image, one column per method, each panel titled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from perturbx.errors import PerturbxError
from perturbx.explanation import Explanation
from perturbx.viz.overlay import overlay, to_numpy_image


def methods_grid(images: torch.Tensor, maps: Mapping[str, torch.Tensor | Explanation],
                 row_titles: Sequence[str] | None = None, show_input: bool = True, alpha: float = 0.5,
                 panel: float = 2.6) -> Figure:
    """Images ``[B,C,H,W]`` × methods: ``maps`` is name -> ``[B,1,H,W]`` maps or an :class:`Explanation`."""
    if images.dim() == 3:
        images = images[None]
    tensors = {name: m.maps if isinstance(m, Explanation) else m for name, m in maps.items()}
    if not tensors:
        raise PerturbxError("maps: give at least one method (name -> [B,1,H,W] maps)")
    for name, m in tensors.items():
        if m.dim() != 4 or m.shape[0] != images.shape[0] or m.shape[-2:] != images.shape[-2:]:
            raise PerturbxError(f"maps[{name!r}]: expected [{images.shape[0]},1,{images.shape[2]},{images.shape[3]}],"
                                f" got {list(m.shape)}")
    if row_titles is not None and len(row_titles) != images.shape[0]:
        raise PerturbxError(f"row_titles: expected {images.shape[0]} titles, got {len(row_titles)}")
    cols = len(tensors) + int(show_input)
    rows = images.shape[0]
    fig = Figure(figsize=(panel * cols, panel * rows + 0.3), layout="constrained")
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    for b in range(rows):
        col = 0
        if show_input:
            axes[b, 0].imshow(to_numpy_image(images[b]))
            axes[b, 0].set_axis_off()
            axes[b, 0].set_title(row_titles[b] if row_titles else "input", fontsize="medium")
            col = 1
        for name, m in tensors.items():
            overlay(axes[b, col], images[b], m[b], alpha=alpha)
            axes[b, col].set_title(name, fontsize="medium")
            col += 1
    return fig
