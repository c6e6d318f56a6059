"""Make the README and docs pictures from the bundled model and photos: ``docs/images/methods.png`` (a grid of
methods × images) and ``docs/images/flow.png`` (the stages of one RISE explanation). A few minutes on 2 CPU cores.

    python scripts/make_readme_images.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

import perturbx as px
from perturbx import viz
from perturbx.viz.overlay import to_numpy_image

RISE = px.Pipeline(segmenter={"name": "grid", "cells": 7, "edges": "bilinear", "shift": True},
                   sampler={"name": "bernoulli", "p": 0.5}, substrate={"name": "constant", "color": "imagenet_mean"},
                   attributor="rise", n_samples=500, seed=0)
KERNELSHAP = px.Pipeline(segmenter={"name": "slic", "n_segments": 50, "compactness": 20},
                         sampler="kernelshap", substrate={"name": "constant", "color": "imagenet_mean"},
                         attributor="kernelshap", n_samples=300, seed=0)


def methods(model: torch.nn.Module, x: torch.Tensor) -> dict[str, px.Explanation]:
    """RISE, KernelSHAP, Grad-CAM and Integrated Gradients on the same images and predicted classes."""
    logits = px.ModelAdapter(model, output="logit")
    target = px.ModelAdapter(model)(x).argmax(dim=1)
    explainers = {
        "RISE (500 masks)": (RISE, model),
        "KernelSHAP (SLIC, 300)": (KERNELSHAP, model),
        "Grad-CAM": (px.build("explainer", {"name": "gradcam"}), logits),
        "Integrated Gradients (32)": (px.build("explainer", {"name": "integrated_gradients", "steps": 32,
                                                             "reduce": "abs_sum"}), logits),
    }
    out = {}
    for name, (explainer, adapter) in explainers.items():
        start = time.perf_counter()
        out[name] = explainer.explain(adapter, x, target, progress=False)
        print(f"{name}: {time.perf_counter() - start:.1f} s, {out[name].n_queries} queries")
    return out


def flow_figure(model: torch.nn.Module, x: torch.Tensor) -> Figure:
    """Segmentation, one coalition's keep-mask, the fill, the perturbed image and the final RISE map."""
    image = x[0]
    job = next(RISE.jobs(image))
    keep = job.segmentation.keep_masks(job.coalitions.z[:1], torch.arange(1))
    fill = job.fill(keep)
    perturbed = fill + keep[0] * (image - fill)
    segmentation, keep = job.segmentation, keep[0]
    exp = RISE.explain(model, x[:1], progress=False)
    panels = [
        ("1. segmenter: 7×7 cells", viz.mark_boundaries(image, segmentation.labels)),
        ("2. sampler → keep-mask", keep.numpy()),
        ("3. substrate: ImageNet mean", to_numpy_image(fill)),
        ("4. perturbed image → model", to_numpy_image(perturbed)),
    ]
    fig = Figure(figsize=(14, 3.2), layout="constrained")
    axes = fig.subplots(1, 5)
    for ax, (title, picture) in zip(axes, panels):
        ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize="medium")
        ax.set_axis_off()
    viz.overlay(axes[4], image, exp.maps[0])
    axes[4].set_title(f"5. attributor: RISE map ({exp.n_queries} queries)", fontsize="medium")
    return fig


def main() -> None:
    """Write both pictures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images", help="folder for the PNGs (default docs/images)")
    args = parser.parse_args()
    model = px.models.load("efficientnet_lite0")
    x = torch.cat([px.data.image("chelsea"), px.data.image("coffee")])
    labels = [model.label(int(k)) for k in px.ModelAdapter(model)(x).argmax(dim=1)]
    grid = viz.methods_grid(x, methods(model, x), row_titles=labels)
    print(f"wrote {viz.save(grid, Path(args.out) / 'methods.png', dpi=80)}")
    print(f"wrote {viz.save(flow_figure(model, x), Path(args.out) / 'flow.png', dpi=80)}")


if __name__ == "__main__":
    main()
