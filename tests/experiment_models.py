"""Models a test experiment YAML names by import string (``model: {module: tests.experiment_models:...}``)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import torch
from torch import nn


class SlowTinyCNN(nn.Module):
    """A seeded random 2-conv CNN for small images with 4 classes; ``delay`` seconds per forward call
    make a run slow enough to be interrupted part-way whatever the machine."""

    def __init__(self, seed: int = 0, delay: float = 0.0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU())
        self.fc = nn.Linear(8, 4)
        self.delay = delay

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.delay:
            time.sleep(self.delay)
        return self.fc(self.features(x).mean(dim=(2, 3)))


def tiny_cnn(seed: int = 0) -> nn.Module:
    """The tiny CNN, for ``model: {module: "tests.experiment_models:tiny_cnn"}``; the environment variable
    ``PERTURBX_TEST_MODEL_DELAY`` slows it down without changing the experiment (nor its config hash), and
    ``PERTURBX_TEST_PID_DIR`` names a folder where each process that builds it leaves a file named by its pid
    (how a test finds the Ray worker processes to kill)."""
    pids = os.environ.get("PERTURBX_TEST_PID_DIR")
    if pids:
        Path(pids, str(os.getpid())).touch()
    return SlowTinyCNN(seed, float(os.environ.get("PERTURBX_TEST_MODEL_DELAY", "0")))


def done_pairs(database: Path) -> int:
    """Finished pairs so far (0 while the file or its tables do not exist yet or are locked)."""
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.05) as db:
            return db.execute("SELECT count(*) FROM done").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
