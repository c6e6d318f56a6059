"""The evaluator's tidy table: one row per image × explainer × metric, and the curves for plotting."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perturbx.metrics.base import Curve

KEY_COLUMNS = ("image", "explainer", "metric", "value")


@dataclass
class Results:
    """``rows``: flat dicts (image, explainer, metric, value, then protocol columns); ``curves``: keyed
    by ``(image, explainer, metric)``."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[tuple[int, str, str], Curve] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    @property
    def columns(self) -> list[str]:
        """Key columns first, then every protocol column in order of first appearance."""
        seen = dict.fromkeys(KEY_COLUMNS)
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def mean(self) -> dict[tuple[str, str], float]:
        """Mean value per (explainer, metric) over images (NaN values included)."""
        sums: dict[tuple[str, str], list[float]] = {}
        for row in self.rows:
            sums.setdefault((row["explainer"], row["metric"]), []).append(row["value"])
        return {key: sum(values) / len(values) for key, values in sums.items()}

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame (pandas is optional and imported here)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def to_csv(self, path: str | Path) -> None:
        """Write the rows as CSV, with every column; missing protocol values left empty."""
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
