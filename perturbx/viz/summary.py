"""Evaluation summary bar charts: one panel per metric, one bar per explainer with its 95% t-interval."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from perturbx.errors import PerturbxError
from perturbx.experiments.summary import SummaryRow, summarise
from perturbx.metrics.results import Results


def summary_figure(table: Results | Sequence[SummaryRow], metrics: Sequence[str] | None = None,
                   title: str = "") -> Figure:
    """Bars of the mean score over images with the interval ``[ci_low, ci_high]`` (no bar end where it is NaN,
    e.g. with one image); ``table`` is an evaluation's :class:`Results` or summary rows."""
    if isinstance(table, Results):
        table = summarise(table.rows, list(dict.fromkeys(r["explainer"] for r in table.rows)))
    available = list(dict.fromkeys(r.metric for r in table))
    metrics = list(metrics) if metrics is not None else available
    missing = [m for m in metrics if m not in available]
    if missing or not metrics:
        raise PerturbxError(f"metrics: no rows for {missing or 'any metric'} (have: {', '.join(available) or 'none'})")
    explainers = list(dict.fromkeys(r.explainer for r in table))
    cells = {(r.explainer, r.metric): r for r in table}
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(max(3.2, 0.7 * len(explainers) + 1.5) * cols, 3.6 * rows), layout="constrained")
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, metric in zip(axes, metrics):
        present = [e for e in explainers if (e, metric) in cells]
        means = np.array([cells[(e, metric)].mean for e in present])
        low = np.array([cells[(e, metric)].ci_low for e in present])
        high = np.array([cells[(e, metric)].ci_high for e in present])
        errors = np.nan_to_num(np.stack([means - low, high - means]), nan=0.0)
        positions = np.arange(len(present))
        ax.bar(positions, means, yerr=errors, capsize=3, color=[f"C{i}" for i in range(len(present))])
        ax.set_xticks(positions, present, rotation=45, ha="right", fontsize="small")
        n = max(cells[(e, metric)].n for e in present)
        ax.set_title(f"{metric} (n = {n})")
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig
