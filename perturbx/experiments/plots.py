"""Mean curves per explainer (deletion/insertion, MIF/LIF, any metric with curves), one panel per metric."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

GRID = 101  # points of the common x grid when images' curves have different x


def mean_curves(curves: Sequence[dict[str, Any]]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray, str, int]]]:
    """``{metric: {explainer: (x, mean y, axis label, images)}}``; curves on different x grids are first
    interpolated linearly onto ``GRID`` points over their common range."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for curve in curves:
        groups.setdefault(curve["metric"], {}).setdefault(curve["explainer"], []).append(curve)
    means: dict[str, dict[str, tuple[np.ndarray, np.ndarray, str, int]]] = {}
    for metric, by_explainer in groups.items():
        for explainer, items in by_explainer.items():
            xs = [np.asarray(c["x"], float) for c in items]
            ys = [np.asarray(c["y"], float) for c in items]
            if all(len(x) == len(xs[0]) and np.allclose(x, xs[0]) for x in xs):
                x = xs[0]
            else:
                x = np.linspace(max(v[0] for v in xs), min(v[-1] for v in xs), GRID)
                ys = [np.interp(x, xv, yv) for xv, yv in zip(xs, ys)]
            means.setdefault(metric, {})[explainer] = (x, np.mean(ys, axis=0), items[0]["axis"], len(items))
    return means


def curves_figure(curves: Sequence[dict[str, Any]], explainers: Sequence[str], title: str = "") -> Figure:
    """One panel per curve metric, one line per explainer (its mean over images)."""
    means = mean_curves(curves)
    metrics = list(means) or ["(no curves)"]
    cols = min(2, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(6.4 * cols, 4.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics):
        for k, explainer in enumerate(explainers):
            if explainer in means.get(metric, {}):
                x, y, axis, _ = means[metric][explainer]
                style = ("-", "--", ":", "-.")[k // 10 % 4]  # the colour cycle repeats after 10
                ax.plot(x, y, style, label=explainer, linewidth=1.4, color=f"C{k % 10}")
                ax.set_xlabel(axis)
        ax.set_title(f"{metric} (mean over {max((v[3] for v in means.get(metric, {}).values()), default=0)} "
                     "images)")
        ax.set_ylabel("score")
        ax.grid(alpha=0.3)
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    handles, labels = axes[0].get_legend_handles_labels()
    if handles and len(axes) > len(metrics):  # the spare panel holds the legend
        axes[-1].legend(handles, labels, loc="center", fontsize="small", frameon=False)
    elif handles:
        fits = max(1, (90 * cols) // (max(len(label) for label in labels) + 8))  # columns that fit the width
        fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels), fits), fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def save_curves(curves: Sequence[dict[str, Any]], explainers: Sequence[str], path: str | Path,
                title: str = "") -> Path:
    """Write the mean-curve figure as a PNG."""
    path = Path(path)
    curves_figure(curves, explainers, title).savefig(path, dpi=110)
    return path
