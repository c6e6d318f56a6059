"""The results store: an SQLite file written as each (image, explainer) pair finishes, so a run that
is interrupted resumes where it stopped, never recomputing or duplicating a finished pair. One run at a
time: a lock file beside it (released by the kernel when its process dies, even by SIGKILL) refuses a
second writer."""

from __future__ import annotations

import fcntl
import json
import math
import os
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
CREATE TABLE IF NOT EXISTS placement (
    image TEXT NOT NULL, explainer TEXT NOT NULL, worker TEXT NOT NULL, PRIMARY KEY (image, explainer));
"""


class Store:
    """``meta`` (config hash and text), ``done`` per pair, ``rows`` and ``curves`` keyed by
    (image, explainer, metric), ``placement`` (which worker computed each pair). Each pair is one
    transaction: all of its rows or none."""

    def __init__(self, path: str | Path, config_hash: str, config_text: str, resume: bool = False,
                 overwrite: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not resume and not overwrite:
            raise PerturbxError(f"--out: {str(self.path)!r} already holds results; pass --resume to continue "
                                "that run or --overwrite to start again")
        self._lock = _lock(self.path)
        try:
            if self.path.exists() and not resume:
                self.path.unlink()
            self.db = _open(self.path)
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
        except BaseException:
            os.close(self._lock)
            raise

    def done(self) -> set[tuple[str, str]]:
        """The finished (image, explainer) pairs."""
        return set(self.db.execute("SELECT image, explainer FROM done"))

    def add(self, image: str, explainer: str, results: Results, seconds: float, worker: str = "local") -> None:
        """Store one pair's rows and curves, mark it done and note where it ran, in one commit."""
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
            self.db.execute("INSERT INTO placement VALUES (?, ?, ?)", (image, explainer, worker))

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

    def placement(self) -> dict[str, int]:
        """Finished pairs per worker (``host:pid:device``)."""
        return dict(self.db.execute("SELECT worker, count(*) FROM placement GROUP BY worker ORDER BY worker"))

    def close(self) -> None:
        """Close the SQLite connection and release the lock."""
        self.db.close()
        os.close(self._lock)


def _lock(path: Path) -> int:
    """An exclusive lock on ``path.lock`` held until closed; a second run on the same store is refused."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise PerturbxError(f"--out: cannot write in {str(path.parent)!r} ({err.strerror})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        owner = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
        os.close(handle)
        raise PerturbxError(f"--out: another run (pid {owner}) is writing to {str(path)!r}; wait for it to end or "
                            "use another --out") from None
    os.ftruncate(handle, 0)
    os.pwrite(handle, str(os.getpid()).encode(), 0)
    return handle


def _open(path: Path) -> sqlite3.Connection:
    """The store's connection with its tables; a file that is not a perturbx store is one clear error."""
    db = sqlite3.connect(path)
    try:
        db.executescript(SCHEMA)
        db.execute("SELECT key, value FROM meta").fetchall()
        db.execute("SELECT image, explainer, seconds, finished FROM done LIMIT 1").fetchall()
        # a pair's commit survives the process being killed without a disk flush per pair (a machine crash
        # may lose the last pairs, which a resume recomputes; the file stays consistent)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as err:
        db.close()
        raise PerturbxError(f"--out: {str(path)!r} is not a readable results store ({err}); move it away or "
                            "pass --overwrite") from None
    return db


def _float(value: Any) -> float | None:
    """SQLite has no NaN: NaN is stored as NULL and read back as NaN."""
    value = float(value)
    return None if math.isnan(value) else value
