"""Relevance mass accuracy of RISE, KernelSHAP and Grad-CAM on the synthetic benchmark, against random maps.

    python scripts/synthetic_relevance_mass.py --images 48

Images are the first correctly classified ones of held-out seed 2; the target is the true class.
Prints the mean share of positive relevance inside the object mask per method (RISE also after
subtracting each map's mean, see docs/synthetic.md), the same for uniform random maps, and the mask's
area fraction (what a map blind to the object would score).
"""

from __future__ import annotations

import argparse
import time

import torch

import perturbx
from perturbx import registry
from perturbx.data import synthetic
from perturbx.metrics.localisation import RelevanceMassAccuracy
from perturbx.models import ModelAdapter


def explainers(n_samples: int) -> dict[str, tuple[perturbx.Explainer, bool]]:
    """Each method with whether it explains logits (Grad-CAM) rather than probabilities."""
    return {
        "rise": (
            perturbx.Pipeline(
                segmenter={"name": "grid", "cells": 8, "edges": "bilinear", "shift": True},
                sampler={"name": "bernoulli", "p": 0.5},
                attributor="rise",
                n_samples=n_samples,
            ),
            False,
        ),
        "kernelshap": (
            perturbx.Pipeline(
                segmenter={"name": "grid", "cells": 8},
                sampler="kernelshap",
                attributor="kernelshap",
                n_samples=n_samples,
            ),
            False,
        ),
        "gradcam": (registry.build("explainer", "gradcam"), True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--samples", type=int, default=500, help="coalitions per image for RISE and KernelSHAP")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = perturbx.models.load("synthetic_cnn")
    data = synthetic(4 * args.images, seed=2)
    with torch.inference_mode():
        correct = (model(data.images).argmax(1) == data.labels).nonzero().flatten()[: args.images]
    x, masks, labels = data.images[correct], data.masks[correct], data.labels[correct]
    metric = RelevanceMassAccuracy()

    def mass(maps: torch.Tensor) -> float:
        return sum(metric.value(m[0].double(), r[0]) for m, r in zip(maps, masks)) / len(maps)

    print(f"{len(x)} correctly classified images of seed 2, relevance mass accuracy (positive part)")
    for name, (explainer, logits) in explainers(args.samples).items():
        start = time.perf_counter()
        adapter = ModelAdapter(model, output="logit" if logits else "probability", batch_size=250, progress=False)
        maps = explainer.explain(adapter, x, labels).maps
        print(f"{name:12s} {mass(maps):.3f}   ({time.perf_counter() - start:.1f} s)")
        if name == "rise":  # each value carries the mean score E[y]; the relevance proper is the excess over it
            print(f"{'rise − mean':12s} {mass(maps - maps.mean(dim=(2, 3), keepdim=True)):.3f}")
    random = torch.rand(masks.shape, generator=torch.Generator().manual_seed(0))
    print(f"{'random':12s} {mass(random):.3f}")
    print(f"{'mask area':12s} {float(masks.float().mean()):.3f}")


if __name__ == "__main__":
    main()
