"""Evaluator time for deletion + insertion vs the bare forward passes those curves need, side by side.

Every curve point is one model input, plus one pass per image to find the explained class. The bare
forward runs the same number of images on pre-made inputs, with the best batch size and memory
format found by trying them all, under inference mode. The evaluator runs ``px.evaluate`` with its
own auto-tuned plan (ordering, perturbed images, target selection and AUC included), and again with
the bare forward's plan, which separates the evaluator's own overhead from the choice of plan. Each
side is timed ``--repeats`` times, alternating, best kept. "outside forward" is the share of the
evaluator's time not spent in the model's forward (measured by hooks in the same run), which stays
meaningful on a machine shared with other jobs, where the two timings drift apart.

    python benchmarks/evaluator_overhead.py --images chelsea coffee astronaut --step 224
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from rise_overhead import bare_forward  # benchmarks run as scripts: their folder is on sys.path

import perturbx as px
from perturbx.metrics.curves import step_counts
from perturbx.models import tuning
from perturbx.perturb.filters import gaussian_blur

SIZES = {"cpu": (1, 2, 4, 8, 16, 32), "cuda": (16, 32, 64, 128, 256, 512)}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


@contextmanager
def forward_clock(model: torch.nn.Module, device: str) -> Iterator[list[float]]:
    """Seconds spent inside ``model.forward`` during the block (the rest is the evaluator's own work)."""
    clock, starts = [0.0], []

    def before(module: torch.nn.Module, inputs: object) -> None:
        sync(device)
        starts.append(time.perf_counter())

    def after(module: torch.nn.Module, inputs: object, output: object) -> None:
        sync(device)
        clock[0] += time.perf_counter() - starts.pop()

    handles = [model.register_forward_pre_hook(before), model.register_forward_hook(after)]
    try:
        yield clock
    finally:
        for handle in handles:
            handle.remove()


def best_bare_plan(model: torch.nn.Module, device: str) -> tuple[int, bool]:
    """The fastest (batch size, channels-last) pair for the bare model, by trying every one."""
    rates = {}
    for channels_last in (False, True):
        for batch in SIZES[device]:
            rates[(batch, channels_last)] = 4 * batch / bare_forward(model, 4 * batch, batch, channels_last, device)
    model.to(memory_format=torch.contiguous_format)
    return max(rates, key=rates.get)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", nargs="+", default=["chelsea", "coffee", "astronaut"])
    parser.add_argument("--step", type=int, default=224, help="pixels per curve step (RISE: 224)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    model = px.models.load("efficientnet_lite0", device=args.device)
    x = torch.cat([px.data.image(name) for name in args.images])
    maps = gaussian_blur(torch.rand(len(x), 1, 224, 224, generator=torch.Generator().manual_seed(0)), 8.0)
    metrics = [{"name": "deletion", "step": args.step}, {"name": "insertion", "step": args.step}]
    points = len(step_counts(224 * 224, args.step))
    n = len(x) * (1 + 2 * points)
    bare_plan = best_bare_plan(model, args.device)
    adapters = {"auto plan": px.ModelAdapter(model),
                "bare's plan": px.ModelAdapter(model, batch_size=bare_plan[0], channels_last=bare_plan[1])}
    with adapters["auto plan"].session((3, 224, 224)):
        plan = adapters["auto plan"].plan((3, 224, 224))
    print(f"device={args.device} threads={torch.get_num_threads()} images={len(x)} points/curve={points} "
          f"forward images={n} bare plan={bare_plan} evaluator auto plan={plan} (tuning cache {tuning.cache_file()})",
          flush=True)
    times: dict[str, list[float]] = {"bare": [], **{name: [] for name in adapters}}
    inside: dict[str, list[float]] = {name: [] for name in adapters}
    for _ in range(args.repeats):
        times["bare"].append(bare_forward(model, n, *bare_plan, args.device))
        model.to(memory_format=torch.contiguous_format)
        for name, adapter in adapters.items():
            with forward_clock(model, args.device) as clock:
                start = time.perf_counter()
                results = px.evaluate(adapter, x, {"given": maps}, metrics)
                sync(args.device)
                times[name].append(time.perf_counter() - start)
            inside[name].append(clock[0])
            assert sum(r["n_queries"] for r in results) + len(x) == n
    bare = min(times["bare"])
    print(f"{'':<24} {'seconds':>8} {'ratio':>6} {'outside forward':>16}")
    for name, runs in times.items():
        label = "bare forward" if name == "bare" else f"evaluator ({name})"
        best = min(range(len(runs)), key=runs.__getitem__)
        share = "" if name == "bare" else f"{1 - inside[name][best] / runs[best]:>15.1%}"
        print(f"{label:<24} {runs[best]:>8.2f} {runs[best] / bare:>6.3f} {share:>16}")
    for (_, metric), value in results.mean().items():
        print(f"  {metric:<10} mean AUC {value:.4f}")


if __name__ == "__main__":
    main()
