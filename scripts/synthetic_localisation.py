"""Localisation and segmentation scores of gradient and CAM maps on the synthetic benchmark's exact masks.

    python scripts/synthetic_localisation.py --images 48

Images 0..n-1 of held-out seed 2, the true class as target, the bundled synthetic CNN (logits). All
images are scored in one ``px.evaluate`` call, so MaxBoxAcc picks one threshold for the whole set.
Expected Gradients draws its references from 16 training images (seed 0). Prints the mean of each
metric per method, and the scores of uniform random maps and of the masks themselves.
"""

from __future__ import annotations

import argparse
import time

import torch

import perturbx as px
from perturbx.data import synthetic
from perturbx.models import ModelAdapter

METRICS = ["max_box_accuracy", "top1_localisation", "pixel_accuracy", "mean_iou", "segmentation_ap"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = px.models.load("synthetic_cnn")
    data = synthetic(args.images, seed=2)
    references = synthetic(16, seed=0).images
    explainers = {
        "gradcam": "gradcam",
        "finercam": "finercam",
        "shapleycam": "shapleycam",
        "saliency": {"name": "saliency", "reduce": "abs_sum"},
        "deeplift": {"name": "deeplift", "reduce": "abs_sum"},
        "expected_gradients": {"name": "expected_gradients", "baselines": references, "reduce": "abs_sum"},
        "random": torch.rand(data.masks.shape, generator=torch.Generator().manual_seed(0)),
        "mask": data.masks.float(),
    }
    start = time.perf_counter()
    adapter = ModelAdapter(model, output="logit", batch_size=64)
    results = px.evaluate(adapter, data.images, explainers, METRICS, target=data.labels, regions=data.masks)
    print(f"{args.images} images of seed 2, true class; means over images ({time.perf_counter() - start:.0f} s)")
    print(f"{'method':20s}" + "".join(f"{m:>19s}" for m in METRICS))
    for name in explainers:
        rows = [r for r in results.rows if r["explainer"] == name]
        means = [sum(r["value"] for r in rows if r["metric"] == m) / args.images for m in METRICS]
        print(f"{name:20s}" + "".join(f"{v:19.3f}" for v in means))


if __name__ == "__main__":
    main()
