"""How many model queries each sampling design needs for a map that agrees with a reference map.

On EfficientNet-Lite0 and bundled photos, explaining the predicted class in softmax probability:

- ``rise``: 7x7 bilinear cells randomly shifted, ImageNet-mean fill, RISE (coverage normalisation);
  reference: ``--reference`` i.i.d. masks (the issue asks for 16,000) with another seed.
- ``kernelshap``: about 50 SLIC superpixels, ImageNet-mean fill, KernelSHAP; reference: ``--reference``
  paired coalitions (the issue asks for 20,000) with another seed; the i.i.d. baseline is unpaired sampling.
  Peers (``--peers``): Captum KernelShap and shap's KernelExplainer on the same superpixels and fill,
  run at doubling budgets.
- ``lime``: the same superpixels and fill, LIME with lime_image's kernel (sqrt(exp(-d²/0.25²)), cosine
  distance on the coalitions) and ridge (alpha 1); reference: ``--reference`` Bernoulli(0.5) coalitions with
  another seed; the i.i.d. baseline is lime_image's own design (Bernoulli(0.5), row 0 the original). Peers
  (``--peers``): lime_image and Captum Lime, both given the same kernel and ridge (Captum's defaults, an
  L2 kernel of width 1 on the images and Lasso, estimate another surrogate), so all four estimate one map.

A map "reaches the bar" at the first checkpoint from which its Spearman rank correlation with the
reference stays >= 0.95 and its relative L2 distance <= 5% (checked every ``--every`` rows up to
``--max`` rows, per seed). perturbx designs are traced in one run each (the map at a checkpoint is
exactly the map a run of that many rows gives). The stopping rule at tolerance t is read off the same
traces: it stops at the first checkpoint whose error measure is below t (``range``: max(stderr)/range,
``--tolerances``; ``correlation`` and ``rank``: 1 − the expected Pearson / Spearman correlation with the
converged map, ``--shortfalls`` and ``--rank-shortfalls``), which is exactly what
``stop: {tolerance: t, measure: ..., check_every: every, min_samples: every}`` does. Query
ratios compare with fixed-N i.i.d. sampling at the N that reaches the bar (an oracle fixed-N user);
wall-time ratios are measured in the same run. The reference map is cached in ``--out``, so reruns reuse it.

``--model synthetic_cnn`` runs the same measurement on the bundled 64x64 CNN and the synthetic benchmark's
images (``--images 0,1`` are their indices), about a hundred times cheaper per query.

    python benchmarks/convergence.py --method rise --reference 16000 --max 4000 --seeds 3
    python benchmarks/convergence.py --method kernelshap --reference 20000 --max 4000 --seeds 3 --peers
    python benchmarks/convergence.py --method lime --reference 20000 --max 4096 --every 256 --seeds 2 --peers
    python benchmarks/convergence.py --model synthetic_cnn --images 0,1 --method rise --reference 16000 --max 4000
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

import perturbx as px
from perturbx import viz
from perturbx.models.named import IMAGENET_MEAN
from perturbx.viz.convergence import Trace, agreement

RANK, L2 = 0.95, 0.05


def rise_pipeline(sampler: object, seed: int, attributor: object = "rise") -> px.Pipeline:
    return px.Pipeline(
        segmenter={"name": "grid", "cells": 7, "edges": "bilinear", "shift": True},
        sampler=sampler,
        substrate={"name": "constant", "color": "imagenet_mean"},
        attributor=attributor,
        seed=seed,
    )


def superpixel_pipeline(segments: dict, sampler: object, seed: int, attributor: object) -> px.Pipeline:
    return px.Pipeline(
        segmenter=segments,
        sampler=sampler,
        substrate={"name": "constant", "color": "imagenet_mean"},
        attributor=attributor,
        seed=seed,
    )


def stop_outcome(trace: Trace, tolerance: float, measure: str = "range") -> tuple[int, bool]:
    """Queries the stopping rule spends at ``tolerance`` and whether its map meets the bar there."""
    errors = {"range": trace.error, "correlation": trace.shortfall, "rank": trace.rank_shortfall}[measure]
    for k, error in enumerate(errors):
        if error < tolerance:
            return trace.queries[k], trace.rank[k] >= RANK and trace.l2[k] <= L2
    return trace.queries[-1], trace.rank[-1] >= RANK and trace.l2[-1] <= L2


def budgets(start: int, end: int) -> list[int]:
    """Doubling budgets from ``start`` up to ``end``."""
    out = [start]
    while out[-1] * 2 <= end:
        out.append(out[-1] * 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=["rise", "kernelshap", "lime"], default="rise")
    parser.add_argument("--model", default="efficientnet_lite0", help="efficientnet_lite0 or synthetic_cnn")
    parser.add_argument(
        "--images",
        default="chelsea",
        help="comma-separated bundled photos (synthetic_cnn: indices into the synthetic benchmark)",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--reference", type=int, default=16000, help="rows of the reference map")
    parser.add_argument("--max", type=int, default=4000, help="most rows traced per design and seed")
    parser.add_argument("--every", type=int, default=100, help="rows between checkpoints")
    parser.add_argument("--tolerances", default="0.05,0.03,0.02", help="stopping-rule tolerances to report")
    parser.add_argument(
        "--shortfalls", default="0.03,0.02,0.01", help="tolerances of the rule's measure: correlation to report"
    )
    parser.add_argument(
        "--rank-shortfalls", default="0.05,0.04,0.03", help="tolerances of the rule's measure: rank to report"
    )
    parser.add_argument("--segments", type=int, default=50, help="SLIC superpixels (kernelshap, lime)")
    parser.add_argument("--peers", action="store_true", help="also run the peer libraries (kernelshap, lime)")
    parser.add_argument("--peer-seeds", type=int, default=None, help="seeds of each peer (default: --seeds)")
    parser.add_argument("--peer-names", default="", help="comma-separated substrings: run only the peers named so")
    parser.add_argument("--designs", default="", help="comma-separated substrings: trace only the designs named so")
    parser.add_argument("--out", default="benchmarks/results", help="folder for the traces (JSON) and figure")
    parser.add_argument("--rank-levels", default="0.9,0.95", help="rank correlations to report queries for")
    parser.add_argument("--l2-levels", default="", help="relative L2 distances to report queries for")
    args = parser.parse_args()

    model = px.models.load(args.model)
    adapter = px.ModelAdapter(model, progress=False)
    tolerances = [("range", float(t)) for t in args.tolerances.split(",")] + [
        ("correlation", float(t)) for t in args.shortfalls.split(",") if t
    ] + [("rank", float(t)) for t in args.rank_shortfalls.split(",") if t]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, list]] = {}
    traces_for_figure: dict[str, Trace] = {}
    for name in args.images.split(","):
        if args.model == "synthetic_cnn":
            x = px.data.synthetic(int(name) + 1).images[int(name) :]
        else:
            x = px.data.image(name)
        with torch.inference_mode():
            target = int(model(x).argmax())
        if args.method == "rise":
            control = {"name": "rise", "control": "linear"}
            designs = {
                "iid (bernoulli)": "bernoulli",
                "antithetic": "antithetic",
                "qmc (scrambled Sobol)": "qmc",
                "control (iid + linear control)": ("bernoulli", control),
                "qmc+control": ("qmc", control),
            }
            reference_design: object = "bernoulli"

            def make(design: object, seed: int) -> px.Pipeline:
                if isinstance(design, tuple):
                    return rise_pipeline(design[0], seed, design[1])
                return rise_pipeline(design, seed)
        else:
            slic = {"name": "slic", "n_segments": args.segments, "compactness": 10.0}
            labels = px.build("segmenter", slic).segment(x[0], torch.Generator()).labels
            segments = {"name": "callable", "function": lambda image, labels=labels: labels, "input": "tensor"}
            if args.method == "kernelshap":
                designs = {
                    "iid (kernelshap unpaired)": {"name": "kernelshap", "exhaustive": False, "paired": False},
                    "kernelshap (paired)": {"name": "kernelshap", "exhaustive": False},
                    "leverage_shap (paired)": {"name": "leverage_shap", "exhaustive": False},
                    "leverage+logistic (adjusted)": (
                        {"name": "leverage_shap", "exhaustive": False}, {"name": "kernelshap", "adjust": "logistic"}
                    ),
                }
                reference_design = designs["kernelshap (paired)"]
            else:
                designs = {
                    "iid (bernoulli, lime_image's)": {"name": "bernoulli", "include_original": True},
                    "antithetic": "antithetic",
                    "qmc (scrambled Sobol)": "qmc",
                }
                reference_design = "bernoulli"

            def make(sampler: object, seed: int, segments: dict = segments) -> px.Pipeline:
                if isinstance(sampler, tuple):  # (sampler, attributor): a design with its own estimator
                    return superpixel_pipeline(segments, sampler[0], seed, sampler[1])
                return superpixel_pipeline(segments, sampler, seed, args.method)

        if args.designs:
            wanted = args.designs.split(",")
            designs = {k: v for k, v in designs.items() if k == next(iter(designs)) or any(w in k for w in wanted)}
        cached = out / f"reference_{args.method}_{args.model}_{name}_{args.reference}_{args.segments}.pt"
        start = time.perf_counter()
        if cached.exists():  # the reference is the costliest part: reruns reuse it
            ref_map = torch.load(cached)
        else:
            pipeline = make(reference_design, 10_000).model_copy(update={"n_samples": args.reference})
            ref_map = pipeline.explain(adapter, x, target, progress=True).maps[0, 0]
            torch.save(ref_map, cached)
        print(f"{name}: target {target}, reference {args.reference} rows in {time.perf_counter() - start:.0f} s")
        for label, sampler in designs.items():
            for seed in range(args.seeds):
                path = out / f"{args.method}_{args.model}_{name}_{label.split()[0]}_{seed}.json"
                saved = json.loads(path.read_text()) if path.exists() else {}
                fields = list(vars(Trace()))
                if saved.get("max") == args.max and saved.get("every") == args.every and set(fields) <= set(saved):
                    seconds = saved.pop("seconds")  # finished earlier with every measure: reuse
                    trace = Trace(**{k: saved[k] for k in fields})
                else:
                    start = time.perf_counter()
                    trace = viz.convergence_trace(
                        make(sampler, seed), adapter, x, target, every=args.every, max_samples=args.max,
                        reference=ref_map,
                    )
                    seconds = time.perf_counter() - start
                    path.write_text(json.dumps({**vars(trace), "seconds": seconds, "max": args.max,
                                                "every": args.every}))
                record = rows.setdefault(label, new_record())
                record["traces"].append(trace)
                record["seconds_per_query"].append(seconds / trace.queries[-1])
                record["stop"].append([stop_outcome(trace, t, measure) for measure, t in tolerances])
                if seed == 0 and name == args.images.split(",")[0]:
                    traces_for_figure[label] = trace
                print(
                    f"  {label} seed {seed}: bar at {trace.first_within(RANK, L2)} queries, "
                    f"final rank {trace.rank[-1]:.3f} l2 {trace.l2[-1]:.3f} error {trace.error[-1]:.4f} "
                    f"({seconds:.0f} s)"
                )
        if args.method != "rise" and args.peers:
            peer_runs(model, x, target, labels, ref_map, args, rows, name, out)
    report(rows, tolerances, args)
    figure = viz.convergence_figure(
        traces_for_figure,
        tolerance=min(t for measure, t in tolerances if measure == "range"),
        title=f"{args.method} on {args.model}: error and agreement with a {args.reference}-row reference",
    )
    print(f"wrote {viz.save(figure, out / f'convergence_{args.method}_{args.model}.png')}")


def peer_runs(
    model: torch.nn.Module,
    x: torch.Tensor,
    target: int,
    labels: torch.Tensor,
    ref_map: torch.Tensor,
    args: argparse.Namespace,
    rows: dict[str, dict[str, list]],
    name: str,
    out: Path,
) -> None:
    """The peers of ``args.method`` at doubling budgets (each budget a fresh run): Captum KernelShap and shap's
    KernelExplainer, or lime_image and Captum Lime with lime_image's kernel and ridge. Finished runs are kept in
    ``out`` and reused."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    m = int(labels.max()) + 1
    count = {"images": 0}

    def probabilities(batch: torch.Tensor) -> torch.Tensor:
        count["images"] += batch.shape[0]
        with torch.inference_mode():
            return model(batch).softmax(-1)

    onehot = torch.nn.functional.one_hot(labels, m).permute(2, 0, 1).float()

    def captum(attributor: object, budget: int, seed: int) -> torch.Tensor:
        """One Captum perturbation attribution on the superpixels, with the fill as baseline."""
        torch.manual_seed(seed)
        attribution = attributor.attribute(
            x, target=target, baselines=mean, feature_mask=labels[None, None], n_samples=budget,
            perturbations_per_eval=32,
        )
        return attribution[0, 0]

    def captum_kernelshap(budget: int, seed: int) -> torch.Tensor:
        from captum.attr import KernelShap

        return captum(KernelShap(probabilities), budget, seed)

    def shap_kernel(budget: int, seed: int) -> torch.Tensor:
        import shap

        np.random.seed(seed)

        def f(z: np.ndarray) -> np.ndarray:
            keep = torch.einsum("nm,mhw->nhw", torch.from_numpy(z).float(), onehot)[:, None]
            images = mean + keep * (x - mean)
            return torch.cat([probabilities(chunk)[:, target] for chunk in images.split(32)]).numpy()

        explainer = shap.KernelExplainer(f, np.zeros((1, m)))
        values = explainer.shap_values(np.ones((1, m)), nsamples=budget, l1_reg=False, silent=True)
        return torch.from_numpy(np.asarray(values).reshape(-1)[:m]).float()[labels]

    kernel = px.build("attributor", "lime")  # lime_image's kernel, which both LIME peers are given

    def captum_lime(budget: int, seed: int) -> torch.Tensor:
        from captum._utils.models.linear_model import SkLearnRidge
        from captum.attr import Lime

        def similarity(original: torch.Tensor, perturbed: torch.Tensor, interpretable: torch.Tensor,
                       **kwargs: object) -> torch.Tensor:
            return kernel.weights(interpretable.float()).float()

        return captum(Lime(probabilities, SkLearnRidge(alpha=1.0), similarity_func=similarity), budget, seed)

    def lime_package(budget: int, seed: int) -> torch.Tensor:
        from lime import lime_image

        def classify(images: np.ndarray) -> np.ndarray:
            return probabilities(torch.from_numpy(images).permute(0, 3, 1, 2).float()).numpy()

        explanation = lime_image.LimeImageExplainer(random_state=seed).explain_instance(
            x[0].permute(1, 2, 0).double().numpy(), classify, labels=(target,), top_labels=None,
            hide_color=np.array(IMAGENET_MEAN), num_samples=budget, batch_size=32,
            segmentation_fn=lambda image: labels.numpy(),
        )
        scores = torch.zeros(m)
        for feature, weight in explanation.local_exp[target]:
            scores[feature] = weight
        return scores[labels]

    peers = (
        {"Captum KernelShap": captum_kernelshap, "shap KernelExplainer": shap_kernel}
        if args.method == "kernelshap"
        else {"Captum Lime": captum_lime, "lime_image": lime_package}
    )
    if args.peer_names:
        peers = {k: v for k, v in peers.items() if any(w in k for w in args.peer_names.split(","))}
    for label, run in peers.items():
        for seed in range(args.seeds if args.peer_seeds is None else args.peer_seeds):
            path = out / f"{args.method}_{args.model}_{name}_{label.split()[0]}_{seed}.json"
            saved = json.loads(path.read_text()) if path.exists() else {}
            trace, seconds = Trace(), []
            for budget in budgets(args.every * 2, args.max):
                if str(budget) in saved:
                    queries, rank, l2, per_query = saved[str(budget)]
                else:
                    count["images"] = 0
                    start = time.perf_counter()
                    saliency = run(budget, seed)
                    queries = count["images"]
                    per_query = (time.perf_counter() - start) / max(queries, 1)
                    rank, l2 = agreement(saliency, ref_map)
                    saved[str(budget)] = [queries, rank, l2, per_query]
                    path.write_text(json.dumps(saved))
                trace.queries.append(queries)
                trace.rank.append(rank)
                trace.l2.append(l2)
                trace.error.append(math.nan)
                seconds.append(per_query)
                print(f"  {label} seed {seed} budget {budget}: {queries} queries, rank {rank:.3f} l2 {l2:.3f}")
            record = rows.setdefault(label, new_record())
            record["traces"].append(trace)
            record["seconds_per_query"].append(float(np.mean(seconds)))


def new_record() -> dict[str, list]:
    """Per design, one entry per (image, seed)."""
    return {"seconds_per_query": [], "stop": [], "traces": []}


def queries_to(trace: Trace, level: float, kind: str) -> float | None:
    """Queries from which the map stays at rank >= ``level`` (``kind='rank'``) or L2 <= ``level``, interpolated
    between checkpoints on log-log scales (errors fall as a power of the queries); None if not reached."""
    values = trace.rank if kind == "rank" else trace.l2
    error = [1 - v if kind == "rank" else v for v in values]
    goal = 1 - level if kind == "rank" else level
    ok = [e <= goal for e in error]
    for k in range(len(ok)):
        if all(ok[k:]):
            if k == 0 or not error[k - 1] > error[k] > 0:
                return float(trace.queries[k])
            t = math.log(error[k - 1] / goal) / math.log(error[k - 1] / error[k])
            q0, q1 = math.log(trace.queries[k - 1]), math.log(trace.queries[k])
            return math.exp(q0 + t * (q1 - q0))
    return None


def error_constants(rows: dict[str, dict[str, list]], baseline: str, peer: str | None, start: int = 1000) -> None:
    """Fit ``L2² = a_d / N + c`` to every checkpoint from ``start`` queries on, one ``a_d`` per design and one
    ``c`` for all (the reference's own squared error, shared by every comparison with it): ``a_d`` is a design's
    squared error times its queries, so ``a_d / a_baseline`` is the share of queries it needs for the same
    error, free of the floor the reference puts under every distance."""
    labels = list(rows)
    design, target = [], []
    for j, label in enumerate(labels):
        for trace in rows[label]["traces"]:
            for q, l2 in zip(trace.queries, trace.l2):
                if q >= start:
                    row = [0.0] * (len(labels) + 1)
                    row[j], row[-1] = 1.0 / q, 1.0
                    design.append(row)
                    target.append(l2 * l2)
    if not design:
        return
    solution = np.linalg.lstsq(np.array(design), np.array(target), rcond=None)[0]
    a = dict(zip(labels, solution[:-1]))
    print(f"\nsquared relative L2 = a / queries + c from {start} queries on: reference's own error sqrt(c) = "
          f"{math.sqrt(max(solution[-1], 0.0)):.3f}")
    for label in labels:
        ratios = f"{a[label] / a[baseline]:.2f} of {baseline}"
        if peer:
            ratios += f", {a[label] / a[peer]:.2f} of {peer}"
        print(f"  {label:<30} a = {a[label]:8.1f}: queries for the same error = {ratios}")


def report(rows: dict[str, dict[str, list]], tolerances: list[tuple[str, float]], args: argparse.Namespace) -> None:
    """Queries to the bar and to each level per design (means over images and seeds), ratios to i.i.d. and
    to Captum, wall-time ratios, and what the stopping rule spends and achieves at each tolerance."""
    baseline_name = next(iter(rows))
    peer = next((label for label in rows if label.startswith("Captum")), None)

    def mean_of(values: list[float | None]) -> tuple[float, int]:
        """Mean, counting a run that never got there as --max + 1 (so the mean is a lower bound), and misses."""
        return float(np.mean([args.max + 1 if v is None else v for v in values])), sum(v is None for v in values)

    levels = [("rank", float(v)) for v in args.rank_levels.split(",") if v] + [
        ("l2", float(v)) for v in args.l2_levels.split(",") if v
    ]
    print(
        f"\nmeans over {len(rows[baseline_name]['traces'])} runs (images x seeds); a run that never got there "
        f"counts as {args.max + 1} (marked *: the mean is a lower bound); ratios to {baseline_name}"
        + (f" and to {peer}" if peer else "")
    )
    goals = [("bar", None), *levels]
    names = [f"bar (rank>={RANK:g}, L2<={L2:g})" if kind == "bar" else f"{kind} {level:g}" for kind, level in goals]
    header = f"{'design':<32}" + "".join(f"{n:>26}" for n in names)
    print(header + f"{'s/query ratio':>15}")
    table: dict[str, list[float]] = {}
    for label, record in rows.items():
        cells, means = [], []
        for kind, level in goals:
            reached = [
                t.first_within(RANK, L2) if kind == "bar" else queries_to(t, level, kind) for t in record["traces"]
            ]
            mean, missed = mean_of(reached)
            means.append(mean)
            cells.append(f"{mean:.0f}{'*' if missed else ''}")
        table[label] = means
        speed = float(np.mean(record["seconds_per_query"])) / float(np.mean(rows[baseline_name]["seconds_per_query"]))
        print(f"{label:<32}" + "".join(f"{c:>26}" for c in cells) + f"{speed:>15.2f}")
    for reference in [baseline_name] + ([peer] if peer else []):
        print(f"query ratios to {reference}:")
        for label, means in table.items():
            ratios = [m / b for m, b in zip(means, table[reference])]
            print(f"  {label:<30}" + "".join(f"{r:>26.2f}" for r in ratios))
    error_constants(rows, baseline_name, peer)
    baseline_reach = [t.first_within(RANK, L2) for t in rows[baseline_name]["traces"]]
    fixed = max(args.max + 1 if r is None else r for r in baseline_reach)
    print(f"\nfixed N that meets the bar in every run of {baseline_name}: {fixed}")
    for label, record in rows.items():
        if not record["stop"]:
            continue
        print(f"stopping rule, {label}:")
        for k, (measure, tolerance) in enumerate(tolerances):
            used = [s[k][0] for s in record["stop"]]
            met = sum(s[k][1] for s in record["stop"])
            ranks = [t.rank[t.queries.index(q)] for t, q in zip(record["traces"], used)]
            print(
                f"    {measure} < {tolerance:<6g}: mean {np.mean(used):>6.0f} queries (max {max(used)}), "
                f"{np.mean(used) / table[baseline_name][0]:.2f} of i.i.d. at its bar, "
                f"{np.mean(used) / fixed:.2f} of the fixed N; bar met in {met}/{len(used)}; "
                f"rank at stop {np.mean(ranks):.3f} (min {min(ranks):.3f})"
            )


if __name__ == "__main__":
    main()
