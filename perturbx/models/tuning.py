"""Find the fastest batch size for a model on this machine among those that give bit-identical scores, and
remember it for a while.

A model's scores for one image can change in the last bits with the size of the batch it sits in. Only batch
sizes whose scores equal those of the reference batch (the largest candidate) bit for bit are eligible, and the
adapter pads every call to an eligible size; so whichever size the timing picks, and whether tuning is on, off
or cached, every score is the same.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

CPU_BATCHES = (2, 4, 8, 16)
GPU_BATCHES = (32, 64, 128, 256)
MAX_AGE_S = 7 * 24 * 3600  # a plan is measured again after a week ...
BUSY_MAX_AGE_S = 3600  # ... or after an hour when the machine was busy while it was measured
PROBE_SEED = 0


def enabled() -> bool:
    """False when the environment variable ``PERTURBX_TUNING`` is ``0``, ``off``, ``false`` or ``no``."""
    return os.environ.get("PERTURBX_TUNING", "on").strip().lower() not in ("0", "off", "false", "no")


def cache_file() -> Path:
    """Where plans persist between runs: ``$PERTURBX_CACHE_DIR``, else ``$XDG_CACHE_HOME/perturbx``, else
    ``~/.cache/perturbx``."""
    root = os.environ.get("PERTURBX_CACHE_DIR")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "perturbx"
    return Path(root) / "tuning.json"


def machine_busy() -> bool:
    """Whether other work competes for the CPUs (1-minute load average above the core count)."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except (OSError, AttributeError):
        return False


def read_cache(key: str, now: float | None = None) -> tuple[int, tuple[int, ...]] | None:
    """The cached ``(batch size, eligible sizes)`` for ``key``, or None if absent, unreadable or expired."""
    try:
        entry = json.loads(cache_file().read_text())[key]
        age = (time.time() if now is None else now) - float(entry["measured_at"])
        if not 0 <= age < (BUSY_MAX_AGE_S if entry["busy"] else MAX_AGE_S):
            return None
        return int(entry["batch_size"]), tuple(int(size) for size in entry["sizes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(key: str, batch_size: int, sizes: tuple[int, ...], busy: bool) -> None:
    """Store a measured plan under ``key``, atomically (best effort: an unwritable cache is ignored)."""
    path = cache_file()
    try:
        try:
            data = json.loads(path.read_text())
            data = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            data = {}
        data[key] = {"batch_size": batch_size, "sizes": list(sizes), "busy": busy, "measured_at": time.time()}
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".tuning-", delete=False) as tmp:
            json.dump(data, tmp, indent=1)
        os.replace(tmp.name, path)
    except OSError:
        pass


def announce(quiet: bool) -> None:
    """Say once, on stderr, what the pause is and where its result goes."""
    if not quiet:
        print(
            f"perturbx: timing batch sizes for this model once (cached in {cache_file()}; "
            "PERTURBX_TUNING=off skips it)",
            file=sys.stderr,
        )


def images_per_second(
    run: Callable[[torch.Tensor], object], batch: torch.Tensor, repeats: int = 2, min_images: int = 16
) -> float:
    """Best-of-``repeats`` throughput of ``run`` on ``batch`` (already warmed up); each round runs at least
    ``min_images`` images so that small batches are not timed on a single noisy call."""
    sync = torch.cuda.synchronize if batch.is_cuda else (lambda: None)
    calls = max(1, -(-min_images // batch.shape[0]))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            run(batch)
        sync()
        best = min(best, time.perf_counter() - start)
    return calls * batch.shape[0] / best


def candidates(device: torch.device) -> tuple[int, ...]:
    """The batch sizes tried on ``device``; the largest is the reference plan."""
    return GPU_BATCHES if device.type == "cuda" else CPU_BATCHES


def search(
    run: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, int, int], device: torch.device
) -> tuple[int, tuple[int, ...]]:
    """The fastest candidate batch size, and every size (1 included) whose scores on a seeded random probe
    equal the reference batch's bit for bit. The probe comes from a private generator: the caller's global
    random state is untouched."""
    reference = max(candidates(device))
    probe = torch.rand((reference, *shape), generator=torch.Generator().manual_seed(PROBE_SEED)).to(device)
    expected = run(probe)
    eligible, rates = [reference], {}
    for size in sorted({1, *candidates(device)} - {reference}, reverse=True):
        try:
            if torch.equal(torch.cat([run(chunk) for chunk in probe.split(size)]), expected):
                eligible.append(size)
        except torch.OutOfMemoryError:
            continue
    for size in candidates(device):
        if size in eligible:
            rates[size] = images_per_second(run, probe[:size])
    return max(rates, key=rates.get), tuple(sorted(eligible))
