"""RISE pipeline vs the bare model forward passes on the same number of images, side by side.

The bare forward gets the best batch size and memory format found by trying them all, under
inference mode, on pre-made images (no mask generation, no blending). The pipeline runs with its
own auto-tuned plan. Each configuration is timed ``--repeats`` times, alternating, best kept.
Peak memory is the peak resident set size of a fresh process running the pipeline at each N.

    python benchmarks/rise_overhead.py --n 500 4000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

import perturbx as px
from perturbx.models import tuning

SIZES = {"cpu": (1, 2, 4, 8, 16, 32), "cuda": (16, 32, 64, 128, 256, 512)}


def bare_forward(model: torch.nn.Module, n: int, batch: int, channels_last: bool, device: str) -> float:
    """Seconds for ``n`` forward passes at ``batch`` images per call (images made beforehand)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    x = torch.rand(batch, 3, 224, 224, device=device).contiguous(memory_format=fmt)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    with torch.inference_mode():
        model(x)
        sync()
        start = time.perf_counter()
        done = 0
        while done < n:
            take = min(batch, n - done)
            model(x[:take])
            done += take
        sync()
    return time.perf_counter() - start


def best_bare_plan(model: torch.nn.Module, device: str) -> tuple[int, bool]:
    """The fastest (batch size, channels-last) pair for the bare model, by trying every one."""
    rates = {}
    for channels_last in (False, True):
        for batch in SIZES[device]:
            rates[(batch, channels_last)] = 4 * batch / bare_forward(model, 4 * batch, batch, channels_last, device)
    return max(rates, key=rates.get)


def pipeline(n: int, device: str) -> px.Pipeline:
    return px.Pipeline(
        segmenter={"name": "grid", "cells": 7, "edges": "bilinear", "shift": True},
        sampler="bernoulli",
        substrate="constant",
        attributor="rise",
        n_samples=n,
        seed=0,
    )


def peak_memory(n: int, device: str) -> float:
    """Peak RSS in MB of a fresh process that loads the model and runs the pipeline at ``n``."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n), "--device", device], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def child(n: int, device: str) -> None:
    model = px.models.load(device=device)
    x = px.data.image("chelsea")
    pipeline(n, device).explain(px.ModelAdapter(model), x, progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps({"peak_mb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[500, 4000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.device)
        return
    model = px.models.load(device=args.device)
    x = px.data.image("chelsea")
    bare_plan = best_bare_plan(model, args.device)
    adapter = px.ModelAdapter(model)
    with adapter.session((3, 224, 224)):
        plan = adapter.plan((3, 224, 224))
    print(
        f"device={args.device} threads={torch.get_num_threads()} bare plan={bare_plan} pipeline plan={plan} "
        f"(tuning cache {tuning.cache_file()})"
    )
    print(f"{'N':>6} {'bare s':>8} {'pipeline s':>11} {'ratio':>6} {'peak MB':>8}")
    for n in args.n:
        bare, piped = [], []
        for _ in range(args.repeats):
            bare.append(bare_forward(model, n, *bare_plan, args.device))
            start = time.perf_counter()
            exp = pipeline(n, args.device).explain(adapter, x, progress=False)
            piped.append(time.perf_counter() - start)
        assert exp.n_queries == n + 1
        b, p = min(bare), min(piped)
        print(f"{n:>6} {b:>8.2f} {p:>11.2f} {p / b:>6.3f} {peak_memory(n, args.device):>8.0f}")


if __name__ == "__main__":
    main()
