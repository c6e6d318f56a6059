"""The results store: an SQLite file written as each (image, explainer) pair finishes, so a run that
is interrupted resumes where it stopped, never recomputing or duplicating a finished pair."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from perturbx.errors import PerturbxError
from perturbx.metrics.results import Results

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS done (
    image TEXT NOT NULL, explainer TEXT NOT NULL, seconds REAL NOT NULL, finished REAL NOT NULL,
    PRIMARY KEY (image, explainer));
CREATE TABLE IF NOT EXISTS rows (
    image TEXT NOT NULL, explainer TEXT NOT NULL, metric TEXT NOT NULL, value REAL, protocol TEXT NOT NULL,
    UNIQUE (image, explainer, metric));
CREATE TABLE IF NOT EXISTS curves (
    image TEXT NOT NULL, explainer TEXT NOT NULL, metric TEXT NOT NULL, x TEXT NOT NULL, y TEXT NOT NULL,
    axis TEXT NOT NULL, UNIQUE (image, explainer, metric));
"""


class Store:
    """``meta`` (config hash and text), ``done`` per pair, ``rows`` and ``curves`` keyed by
    (image, explainer, metric). Each pair is one transaction: all of its rows or none."""

    def __init__(self, path: str | Path, config_hash: str, config_text: str, resume: bool = False,
                 overwrite: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not resume:
            if not overwrite:
                raise PerturbxError(f"--out: {str(self.path)!r} already holds results; pass --resume to continue "
                                    "that run or --overwrite to start again")
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(SCHEMA)
        stored = dict(self.db.execute("SELECT key, value FROM meta"))
        if "config_hash" in stored and stored["config_hash"] != config_hash:
            self.db.close()
            raise PerturbxError(f"--resume: {str(self.path)!r} holds another experiment (config hash "
                                f"{stored['config_hash']}, this config {config_hash}); use another --out or "
                                "--overwrite")
        with self.db:
            self.db.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)",
                                [("config_hash", config_hash), ("config", config_text),
                                 ("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))])

    def done(self) -> set[tuple[str, str]]:
        """The finished (image, explainer) pairs."""
        return set(self.db.execute("SELECT image, explainer FROM done"))

    def add(self, image: str, explainer: str, results: Results, seconds: float) -> None:
        """Store one pair's rows and curves and mark it done, in one commit."""
        rows = []
        for row in results.rows:
            protocol = {k: v for k, v in row.items() if k not in ("image", "explainer", "metric", "value")}
            rows.append((image, explainer, row["metric"], _float(row["value"]), json.dumps(protocol, default=str)))
        curves = [(image, explainer, metric, json.dumps(c.x.tolist()), json.dumps(c.y.tolist()), c.axis)
                  for (_, _, metric), c in results.curves.items()]
        with self.db:
            self.db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?)", rows)
            self.db.executemany("INSERT INTO curves VALUES (?, ?, ?, ?, ?, ?)", curves)
            self.db.execute("INSERT INTO done VALUES (?, ?, ?, ?)", (image, explainer, seconds, time.time()))

    def rows(self) -> list[dict[str, Any]]:
        """Every stored row, in the order stored, flat as the evaluator made it."""
        query = "SELECT image, explainer, metric, value, protocol FROM rows ORDER BY rowid"
        return [{"image": image, "explainer": explainer, "metric": metric,
                 "value": math.nan if value is None else value, **json.loads(protocol)}
                for image, explainer, metric, value, protocol in self.db.execute(query)]

    def curves(self) -> list[dict[str, Any]]:
        """Every stored curve: image, explainer, metric, x, y, axis."""
        query = "SELECT image, explainer, metric, x, y, axis FROM curves ORDER BY rowid"
        return [{"image": image, "explainer": explainer, "metric": metric, "x": json.loads(x), "y": json.loads(y),
                 "axis": axis} for image, explainer, metric, x, y, axis in self.db.execute(query)]

    def close(self) -> None:
        """Close the SQLite connection."""
        self.db.close()


def _float(value: Any) -> float | None:
    """SQLite has no NaN: NaN is stored as NULL and read back as NaN."""
    value = float(value)
    return None if math.isnan(value) else value
