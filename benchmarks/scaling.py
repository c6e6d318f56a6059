"""One experiment (24 synthetic images x 3 explainers x deletion and insertion) run locally and on Ray
with 1 and 2 workers, in one run: wall-time ratios, and Ray's share of the time outside the work itself.

Ray's share for a Ray run is 1 - (seconds the workers spent on pairs) / (workers x wall time), with the
Ray instance already started (its start is reported apart); the local run's share, measured the same
way, is the store, summary and plot writing that every engine pays.

    python benchmarks/scaling.py
    python benchmarks/scaling.py --images 48 --chunk 4
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import ray
import torch

from perturbx.experiments import run
from perturbx.experiments.runner import DATABASE

CONFIG = """# Scaling benchmark: synthetic images, the bundled synthetic CNN, three explainers, deletion and insertion.
dataset: {{kind: synthetic, n: {images}, size: 64}}
model: synthetic_cnn
target: label
explainers:
  rise:
    name: pipeline
    segmenter: {{name: grid, cells: 7, edges: bilinear, shift: true}}
    sampler: bernoulli
    attributor: rise
    n_samples: 500
  kernelshap:
    name: pipeline
    segmenter: {{name: grid, cells: 8}}
    sampler: kernelshap
    attributor: kernelshap
    n_samples: 300
  integrated_gradients: {{name: integrated_gradients, steps: 32}}
metrics: [{{name: deletion, step: 256}}, {{name: insertion, step: 256}}]
engine: {{chunk: {chunk}}}
"""


def pair_seconds(out: Path) -> float:
    """Seconds the workers spent on the pairs (the ``done`` table)."""
    with sqlite3.connect(out / DATABASE) as db:
        return float(db.execute("SELECT sum(seconds) FROM done").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--chunk", type=int, default=2, help="images per unit of work")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a Ray worker with one CPU
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "scaling.yaml"
        config.write_text(CONFIG.format(images=args.images, chunk=args.chunk))
        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = time.perf_counter() - start
        runs = {}
        for name, engine in [("local", {"kind": "local"}), ("ray, 1 worker", {"kind": "ray", "workers": 1}),
                             ("ray, 2 workers", {"kind": "ray", "workers": 2})]:
            out = Path(folder) / name.replace(" ", "").replace(",", "_")
            start = time.perf_counter()
            outcome = run(config, out, device="cpu", progress=False, engine={**engine, "chunk": args.chunk})
            wall = time.perf_counter() - start
            workers = engine.get("workers", 1)
            runs[name] = (wall, pair_seconds(out), workers, outcome)
        ray.shutdown()
    pairs = args.images * 3
    local = runs["local"][0]
    print(f"{args.images} images x 3 explainers ({pairs} pairs, {args.chunk} images per task); "
          f"Ray start {started:.1f} s")
    print(f"{'engine':>15} {'wall s':>8} {'vs local':>9} {'s/task':>7} {'outside work':>13}")
    for name, (wall, work, workers, _) in runs.items():
        share = 1 - work / (workers * wall)
        per_task = work / (pairs / args.chunk)
        print(f"{name:>15} {wall:>8.1f} {wall / local:>9.2f} {per_task:>7.2f} {share:>12.1%}")
    tables = [[(r.explainer, r.metric, r.mean) for r in o.table] for *_, o in runs.values()]
    print("tables identical:", all(t == tables[0] for t in tables))


if __name__ == "__main__":
    main()
