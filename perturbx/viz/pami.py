"""PAMI's two views: the absolute "average" map (probabilities 0..1 on the full colour scale) and the
min-max "normalised" map."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from perturbx.errors import PerturbxError
from perturbx.explanation import Explanation
from perturbx.viz.overlay import to_numpy_image, to_numpy_map


def pami_figure(image: torch.Tensor, explanation: Explanation, index: int = 0, title: str = "",
                alpha: float = 0.5, cmap: str = "jet") -> Figure:
    """Photo, average map (fixed 0..1 scale, so maps of different images compare) and normalised map."""
    average = explanation.meta.get("average")
    if average is None:
        raise PerturbxError(f"pami_figure: explanation of {explanation.method!r} has no meta['average'] "
                            "(use a pipeline with the pami attributor, e.g. configs/pami.yaml)")
    if not 0 <= index < explanation.maps.shape[0]:
        raise PerturbxError(f"pami_figure: index must be in [0, {explanation.maps.shape[0]}), got {index}")
    photo = to_numpy_image(image[index] if image.dim() == 4 else image)
    fig = Figure(figsize=(11, 3.9), layout="constrained")
    left, middle, right = fig.subplots(1, 3)
    left.imshow(photo)
    left.set_title("input")
    middle.imshow(photo)
    shown = middle.imshow(to_numpy_map(average[index]), cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
    middle.set_title("average (probability)")
    fig.colorbar(shown, ax=middle, fraction=0.046, pad=0.04)
    right.imshow(photo)
    shown = right.imshow(to_numpy_map(explanation.maps[index]), cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
    right.set_title("normalised (min-max)")
    fig.colorbar(shown, ax=right, fraction=0.046, pad=0.04)
    for ax in (left, middle, right):
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig
