"""perturbx against Captum, lime and shap on the same model, image, segmentation, fill and query budget.

Every pair runs the same number of model queries (counted for the peers by wrapping the model) on
EfficientNet-Lite0 and the "chelsea" image, explaining the predicted class in softmax probability,
with the same batch size. Pairs:

- KernelSHAP, LIME: ``--queries`` coalitions over SLIC superpixels, ImageNet-mean fill
  (Captum KernelShap / Lime; lime_image with the same segmentation, black fill and one label).
- FeatureAblation: one query per superpixel; Occlusion: 16 px windows, stride 16 (a 14x14 grid).
- shap's Partition explainer with a ``blur(49,49)`` box-blur masker at ``--queries`` evaluations,
  against perturbx KernelSHAP with a near-box Gaussian blur (kernel 49, sigma 100). shap builds its
  own hierarchy of image cells, so only the budget and the fill match there.

Each configuration is timed ``--repeats`` times, perturbx and peer alternating, best kept; the
ratio is peer time / perturbx time (above 1: perturbx is faster). perturbx runs with its tuned plan
(batch size and memory format, ``--px-batch auto``) or a fixed batch; ``--batch plan`` gives the peers
perturbx's tuned batch size, so only the memory format and the per-query overhead differ.

    python benchmarks/perturbation_vs_peers.py --queries 200 --batch plan
    python benchmarks/perturbation_vs_peers.py --queries 200 --batch 32 --px-batch 32
    python benchmarks/perturbation_vs_peers.py --queries 200 --batch 32 --px-batch 32 --model trivial
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

import perturbx as px
from perturbx.models.named import IMAGENET_MEAN


class Counted(torch.nn.Module):
    """The model in softmax probability, counting the images it sees."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.images = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images += x.shape[0]
        return self.model(x).softmax(-1)


class Trivial(torch.nn.Module):
    """A near-free classifier (4x4 average pool + linear), to measure each library's own per-query overhead."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(3 * 16, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1))


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """Seconds taken by ``fn`` and the query count it returns."""
    start = time.perf_counter()
    queries = fn()
    return time.perf_counter() - start, queries


def pipeline(segmenter: dict, sampler: object, substrate: object, attributor: str, n: int) -> px.Pipeline:
    return px.Pipeline(segmenter=segmenter, sampler=sampler, substrate=substrate, attributor=attributor,
                       n_samples=n, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=250, help="model queries for the sampling methods")
    parser.add_argument("--batch", default="32",
                        help="images per model call for the peers: an int, or 'plan' for perturbx's tuned batch size")
    parser.add_argument("--px-batch", default="auto",
                        help="perturbx batch size: 'auto' (its tuned plan: batch size and memory format) or an int")
    parser.add_argument("--segments", type=int, default=50, help="SLIC superpixels")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default="efficientnet_lite0",
                        help="a perturbx model name, or 'trivial' to measure the libraries' own overhead")
    parser.add_argument("--only", default="", help="run only the comparisons whose name contains this text")
    args = parser.parse_args()

    import shap
    from captum.attr import FeatureAblation, KernelShap, Lime, Occlusion
    from lime import lime_image

    model = Trivial().eval() if args.model == "trivial" else px.models.load(args.model)
    counted = Counted(model)
    adapter = px.ModelAdapter(model)
    x = px.data.image("chelsea")
    with torch.inference_mode():
        target = int(model(x).argmax())
    slic = {"name": "slic", "n_segments": args.segments, "compactness": 10.0}
    labels = px.build("segmenter", slic).segment(x[0], torch.Generator()).labels
    # every library gets the same precomputed superpixels, so no one pays for segmenting inside the timing
    segments = {"name": "callable", "function": lambda image: labels, "input": "tensor"}
    m = int(labels.max()) + 1
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    fill = {"name": "constant", "color": "imagenet_mean"}
    q = args.queries
    pb = args.px_batch if args.px_batch == "auto" else int(args.px_batch)
    with adapter.session():
        plan = adapter.plan(tuple(x.shape[1:]), None if pb == "auto" else pb)  # tune once, before timing
    b = plan[0] if args.batch == "plan" else int(args.batch)

    def ours(pipe: px.Pipeline) -> Callable[[], int]:
        size = None if pb == "auto" else pb
        return lambda: pipe.explain(adapter, x, target=target, batch_size=size, progress=False).n_queries

    def captum(make: Callable[[], int]) -> Callable[[], int]:
        def run() -> int:
            counted.images = 0
            with torch.inference_mode():
                make()
            return counted.images

        return run

    feature_mask = labels[None, None]
    window = (3, 16, 16)

    def lime_peer() -> int:
        counted.images = 0
        image = x[0].permute(1, 2, 0).double().numpy()

        def classify(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return counted(torch.from_numpy(batch).permute(0, 3, 1, 2).float()).numpy()

        lime_image.LimeImageExplainer(random_state=0).explain_instance(
            image, classify, labels=(target,), top_labels=None, hide_color=0, num_samples=q, batch_size=b,
            segmentation_fn=lambda _: labels.numpy(), random_seed=0)
        return counted.images

    def shap_peer() -> int:
        counted.images = 0
        image = x[0].permute(1, 2, 0).numpy()

        def classify(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return counted(torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()).numpy()

        explainer = shap.Explainer(classify, shap.maskers.Image("blur(49,49)", image.shape))
        explainer(image[None], max_evals=q, batch_size=b, outputs=[target], silent=True)
        return counted.images

    blur = {"name": "blur", "sigma": 100.0, "kernel_size": 49}
    pairs = {
        "KernelSHAP vs Captum KernelShap": (
            ours(pipeline(segments, "kernelshap", fill, "kernelshap", q)),
            captum(lambda: KernelShap(counted).attribute(x, target=target, baselines=mean, feature_mask=feature_mask,
                                                         n_samples=q, perturbations_per_eval=b))),
        "LIME vs Captum Lime": (
            ours(pipeline(segments, "bernoulli", fill, "lime", q)),
            captum(lambda: Lime(counted).attribute(x, target=target, baselines=mean, feature_mask=feature_mask,
                                                   n_samples=q, perturbations_per_eval=b))),
        "LIME vs lime_image": (
            ours(pipeline(segments, "bernoulli", {"name": "constant", "color": "black"}, "lime", q)), lime_peer),
        "occlusion vs Captum FeatureAblation": (
            ours(pipeline(segments, "single", fill, "occlusion", m)),
            captum(lambda: FeatureAblation(counted).attribute(x, target=target, baselines=mean,
                                                              feature_mask=feature_mask, perturbations_per_eval=b))),
        "occlusion vs Captum Occlusion (16 px)": (
            ours(pipeline({"name": "grid", "cells": 14}, "single", fill, "occlusion", 196)),
            captum(lambda: Occlusion(counted).attribute(x, target=target, baselines=mean, sliding_window_shapes=window,
                                                        strides=window, perturbations_per_eval=b))),
        "KernelSHAP (blur) vs shap Partition (blur)": (
            ours(pipeline(segments, "kernelshap", blur, "kernelshap", q)), shap_peer),
    }
    print(f"{args.model}, chelsea, target {target}, {m} SLIC segments, peer batch {b}, perturbx plan "
          f"(batch, channels_last) {plan}, threads {torch.get_num_threads()}, best of {args.repeats}")
    print(f"{'comparison':<44} {'px queries':>10} {'peer queries':>12} {'px s':>7} {'peer s':>7} {'ratio':>6}")
    for name, (mine, theirs) in pairs.items():
        if args.only.lower() not in name.lower():
            continue
        times: dict[str, list[float]] = {"px": [], "peer": []}
        counts = {}
        for _ in range(args.repeats):
            for key, fn in (("px", mine), ("peer", theirs)):
                t, counts[key] = timed(fn)
                times[key].append(t)
        px_t, peer_t = min(times["px"]), min(times["peer"])
        print(f"{name:<44} {counts['px']:>10} {counts['peer']:>12} {px_t:>7.2f} {peer_t:>7.2f} {peer_t / px_t:>6.2f}")


if __name__ == "__main__":
    main()
