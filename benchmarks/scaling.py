"""One experiment (synthetic images x 3 explainers x deletion and insertion) run locally and on Ray with 1
and 2 workers, in one run: wall-time ratios, Ray's share of the time outside the work itself, and where
each Ray run's worker-seconds went.

The share of a run is 1 - (seconds the workers spent on pairs) / (workers x wall time), with the Ray
instance already started (its start is reported apart); the local run's share, measured the same way, is
the image reading, store, summary and plot writing that every engine pays. The Ray runs are then split
from the engine's timeline (``perturbx.engines.ray_engine.last_timeline``): the actors' start-up (process,
imports, model and data built), the gaps between units (dispatch), time in a unit outside its pairs
(reading images), idle time at the tail, and the driver's own time per unit (result returned, stored).

    python benchmarks/scaling.py                       # 24 images, 8 per task (about 1.5 s per task)
    python benchmarks/scaling.py --images 96 --chunk 8
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import ray
import torch

from perturbx.engines.ray_engine import last_timeline
from perturbx.engines.timeline import Timeline
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


def breakdown(timeline: Timeline, begun: float, ended: float) -> dict[str, float]:
    """A Ray run's worker-seconds (workers x wall), from the engine's timeline and the run's own start and end."""
    parts = timeline.breakdown()
    parts["before"] = (timeline.requested - begun) * timeline.workers  # load, check, open the store
    parts["after"] = (ended - timeline.ended) * timeline.workers  # summary, CSV, plot
    return parts


ROWS = [  # (label, key in the breakdown): worker-seconds, shown as a share of workers x wall
    ("work on pairs", "work"),
    ("driver, before the actors", "before"),
    ("actor start-up", "startup"),
    ("between units (dispatch)", "between_tasks"),
    ("in unit, outside pairs", "in_task"),
    ("idle at the tail", "tail"),
    ("restarts", "restarts"),
    ("driver, after the units", "after"),
]


def report(args: argparse.Namespace, started: float, runs: dict[str, tuple]) -> None:
    """The side-by-side table, then where each Ray run's time went."""
    pairs = args.images * 3
    tasks = -(-args.images // args.chunk) * 3
    local = runs["local"][0]
    print(f"{args.images} images x 3 explainers ({pairs} pairs, {args.chunk} images per task, {tasks} tasks planned); "
          f"Ray start {started:.1f} s (apart)")
    print(f"{'engine':>15} {'wall s':>8} {'vs local':>9} {'s/task':>7} {'outside work':>13}")
    for name, (wall, work, workers, *_) in runs.items():
        print(f"{name:>15} {wall:>8.1f} {wall / local:>9.2f} {work / tasks:>7.2f} {1 - work / (workers * wall):>12.1%}")
    ray_runs = {name: parts for name, (*_, parts) in runs.items() if parts}
    print("\nRay runs, worker-seconds (workers x wall) by where they went:")
    print(f"{'':>27}" + "".join(f"{name:>22}" for name in ray_runs))
    for label, key in ROWS:
        line = "".join(f"{p[key]:>11.2f} s {p[key] / (runs[n][0] * runs[n][2]):>8.1%}" for n, p in ray_runs.items())
        print(f"{label:>27}{line}")
    print("per actor start (s): process wait / imports / model and data built")
    for name, p in ray_runs.items():
        print(f"{name:>27}   {p['actor_process']:.2f} / {p['actor_imports']:.2f} / {p['actor_build']:.2f}")
    print("per unit, Ray's cost against the work (conservative: the return and the store overlap the actor's")
    print("next unit whenever one is queued on it):")
    for name, p in ray_runs.items():
        units, per_unit = p["units"], p["work"] / p["units"]
        dispatch, back, store = p["between_tasks"] / units, p["return_per_unit"], p["store_per_unit"]
        print(f"{name:>27}   dispatch {1000 * dispatch:.0f} ms + return {1000 * back:.0f} ms + store "
              f"{1000 * store:.0f} ms per unit of {per_unit:.2f} s ({units:.0f} sent): "
              f"{(dispatch + back + store) / per_unit:.1%}")
    tables = [[(r.explainer, r.metric, r.mean) for r in outcome.table] for *_, outcome, _ in runs.values()]
    print("tables identical:", all(t == tables[0] for t in tables))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--chunk", type=int, default=8, help="images per unit of work")
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
            begun = time.time()
            outcome = run(config, out, device="cpu", progress=False, engine={**engine, "chunk": args.chunk})
            ended = time.time()
            parts = breakdown(last_timeline(), begun, ended) if engine["kind"] == "ray" else None
            runs[name] = (ended - begun, pair_seconds(out), engine.get("workers", 1), outcome, parts)
        ray.shutdown()
    report(args, started, runs)


if __name__ == "__main__":
    main()
