"""Find the fastest batch size and memory format for a model on this machine, and remember it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

CPU_BATCHES = (2, 4, 8, 16)
GPU_BATCHES = (32, 64, 128, 256)


def cache_file() -> Path:
    """Where tuning results persist between runs (``PERTURBX_CACHE_DIR`` overrides the default)."""
    root = os.environ.get("PERTURBX_CACHE_DIR") or Path.home() / ".cache" / "perturbx"
    return Path(root) / "tuning.json"


def read_cache(key: str) -> tuple[int, bool] | None:
    """The cached ``(batch_size, channels_last)`` for ``key``, or None if absent or unreadable."""
    try:
        entry = json.loads(cache_file().read_text())[key]
        return int(entry["batch_size"]), bool(entry["channels_last"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(key: str, batch_size: int, channels_last: bool) -> None:
    """Store a measured plan under ``key`` (best effort: an unwritable cache is ignored)."""
    path = cache_file()
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
        data[key] = {"batch_size": batch_size, "channels_last": channels_last}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1))
    except (OSError, ValueError):
        pass


def images_per_second(
    run: Callable[[torch.Tensor], object], batch: torch.Tensor, repeats: int = 2, min_images: int = 32
) -> float:
    """Best-of-``repeats`` throughput of ``run`` on ``batch`` after one warm-up call; each round runs
    at least ``min_images`` images so that small batches are not timed on a single noisy call."""
    sync = torch.cuda.synchronize if batch.is_cuda else (lambda: None)
    run(batch)
    sync()
    calls = max(1, -(-min_images // batch.shape[0]))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            run(batch)
        sync()
        best = min(best, time.perf_counter() - start)
    return calls * batch.shape[0] / best


def search(
    run: Callable[[torch.Tensor, bool], object],
    shape: tuple[int, int, int],
    device: torch.device,
    formats: tuple[bool, ...],
) -> tuple[int, bool]:
    """Time every (batch size, memory format) pair on random images and return the fastest: the two
    interact (on a 2-core CPU channels-last wins at small batches and can lose at larger ones)."""
    sizes = GPU_BATCHES if device.type == "cuda" else CPU_BATCHES

    def rate(size: int, channels_last: bool) -> float:
        try:
            return images_per_second(lambda b: run(b, channels_last), torch.rand((size, *shape), device=device),
                                     min_images=16)
        except torch.OutOfMemoryError:
            return 0.0

    rates = {(size, cl): rate(size, cl) for cl in formats for size in sizes}
    return max(rates, key=rates.get)
