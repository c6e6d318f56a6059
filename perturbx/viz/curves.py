"""Deletion/insertion, MIF/LIF (and any other metric's) curves of an evaluation, each line labelled with
its score: the AUC for deletion/insertion, the mean of the curve points for MIF/LIF."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from perturbx.errors import PerturbxError
from perturbx.metrics.results import Results

RULES = {"deletion": "AUC", "insertion": "AUC", "mif": "mean", "lif": "mean"}


def curves_figure(results: Results, metrics: Sequence[str] | None = None, image: int | None = 0,
                  explainers: Sequence[str] | None = None, title: str = "") -> Figure:
    """One panel per curve metric, one line per explainer for ``image`` (``None``: mean over images; curves of
    one metric must then share their x points), labelled ``explainer (rule = value)``."""
    available = list(dict.fromkeys(metric for _, _, metric in results.curves))
    metrics = list(metrics) if metrics is not None else available
    missing = [m for m in metrics if m not in available]
    if missing or not metrics:
        have = ", ".join(available) or "none"
        raise PerturbxError(f"metrics: no curves for {missing or 'any metric'} (have: {have})")
    images = sorted({b for b, _, _ in results.curves})
    if image is not None and image not in images:
        raise PerturbxError(f"image: no curves for image {image} (have: {images})")
    names = list(explainers) if explainers is not None else list(dict.fromkeys(e for _, e, _ in results.curves))
    fig = Figure(figsize=(4.8 * len(metrics), 3.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics):
        rule = RULES.get(metric, "score")
        for name in names:
            picked = [results.curves[(b, name, metric)] for b in ([image] if image is not None else images)
                      if (b, name, metric) in results.curves]
            if not picked:
                continue
            if any(len(c.x) != len(picked[0].x) or not np.allclose(c.x, picked[0].x) for c in picked):
                raise PerturbxError(f"{metric}: the images' curves have different x points; pick one image")
            y = np.mean([c.y.double().cpu().numpy() for c in picked], axis=0)
            value = _value(results, name, metric, image)
            ax.plot(picked[0].x.double().cpu().numpy(), y, linewidth=1.5, label=f"{name} ({rule} {value:.3f})")
            ax.set_xlabel(picked[0].axis)
        ax.set_title(metric if image is not None else f"{metric} (mean over {len(images)} images)")
        ax.set_ylabel("score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def _value(results: Results, explainer: str, metric: str, image: int | None) -> float:
    values = [float(r["value"]) for r in results.rows if r["explainer"] == explainer and r["metric"] == metric
              and (image is None or r["image"] == image)]
    return sum(values) / len(values) if values else math.nan
