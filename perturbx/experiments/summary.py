"""The summary table: mean and 95% t-interval per explainer and metric over images, printed and as CSV."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scipy import stats

LEVEL = 0.95
METHOD = "t-interval 95%: mean ± t(0.975, n-1)·s/√n over images"


@dataclass
class SummaryRow:
    """One explainer × metric: images scored (NaN values left out and counted), mean, sd, 95% interval,
    the explainer's mean cost per image and its mean achieved relative error (NaN for maps without error bars)."""

    explainer: str
    metric: str
    n: int
    n_nan: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    explain_seconds: float
    explain_queries: float
    explain_error: float


def summarise(rows: Sequence[dict[str, Any]], explainers: Sequence[str]) -> list[SummaryRow]:
    """Rows grouped by explainer (in ``explainers`` order) and metric (in order of first appearance)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    metrics = list(dict.fromkeys(row["metric"] for row in rows))
    for row in rows:
        groups.setdefault((row["explainer"], row["metric"]), []).append(row)
    table = []
    for explainer in explainers:
        for metric in metrics:
            group = groups.get((explainer, metric))
            if group:
                table.append(_row(explainer, metric, group))
    return table


def _row(explainer: str, metric: str, group: list[dict[str, Any]]) -> SummaryRow:
    values = [float(r["value"]) for r in group if not math.isnan(float(r["value"]))]
    n = len(values)
    mean = sum(values) / n if n else math.nan
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    half = stats.t.ppf((1 + LEVEL) / 2, n - 1) * std / math.sqrt(n) if n > 1 else math.nan
    return SummaryRow(explainer, metric, n, len(group) - n, mean, std, mean - half, mean + half,
                      _mean(group, "explain_seconds"), _mean(group, "explain_queries"), _mean(group, "explain_error"))


def _mean(group: list[dict[str, Any]], column: str) -> float:
    values = [float(r[column]) for r in group if r.get(column) is not None]
    return sum(values) / len(values) if values else math.nan


def write_csv(table: Sequence[SummaryRow], path: str | Path) -> Path:
    """The table as CSV, one row per explainer × metric, with the interval method in a column."""
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*SummaryRow.__dataclass_fields__, "ci_method"])
        writer.writeheader()
        for row in table:
            writer.writerow({**asdict(row), "ci_method": METHOD})
    return path


def format_table(table: Sequence[SummaryRow], digits: int = 3) -> str:
    """Explainers as rows, metrics as columns, cells ``mean ± half-width`` (Markdown table), then the cost."""
    explainers = list(dict.fromkeys(r.explainer for r in table))
    metrics = list(dict.fromkeys(r.metric for r in table))
    cells = {(r.explainer, r.metric): r for r in table}
    lines = ["| explainer | " + " | ".join(metrics) + " | s/image | queries/image |",
             "| --- " * (len(metrics) + 3) + "|"]
    for explainer in explainers:
        row = [_cell(cells.get((explainer, m)), digits) for m in metrics]
        cost = next(cells[(explainer, m)] for m in metrics if (explainer, m) in cells)
        lines.append(f"| {explainer} | " + " | ".join(row) +
                     f" | {cost.explain_seconds:.2f} | {cost.explain_queries:.0f} |")
    n = max((r.n for r in table), default=0)
    lines.append(f"\nmean ± 95% half-width ({METHOD}); up to n = {n} images per cell")
    return "\n".join(lines)


def _cell(row: SummaryRow | None, digits: int) -> str:
    if row is None or row.n == 0:
        return "–"
    if row.n == 1:
        return f"{row.mean:.{digits}f}"
    return f"{row.mean:.{digits}f} ± {(row.ci_high - row.ci_low) / 2:.{digits}f}"
