"""Grad-CAM and Score-CAM against pytorch-grad-cam, Integrated Gradients against Captum, side by side
on the bundled EfficientNet-Lite0 (CAM layer ``net.head``, logits, the same images and targets).

Each pair is timed alternately ``--repeats`` times after a warm-up (which also runs the adapter's
one-off tuning); the best time of each is kept. Maps are compared too, so the timings are of
equal work. Ratio = peer time / perturbx time (> 1: perturbx is faster).

    python benchmarks/wrappers_vs_peers.py --images 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch
from captum.attr import IntegratedGradients as CaptumIG
from pytorch_grad_cam import GradCAM as PeerGradCAM
from pytorch_grad_cam import ScoreCAM as PeerScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

import perturbx as px


def best_time(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> tuple[float, object]:
    """Best wall time of ``fn`` over ``repeats`` runs, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        result = fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best, result


def compare(name: str, ours: Callable[[], np.ndarray], theirs: Callable[[], np.ndarray], repeats: int,
            sync: Callable[[], None]) -> dict:
    ours(), theirs()  # warm-up: tuning, allocator, lazy imports
    t_ours = t_theirs = float("inf")
    for _ in range(repeats):  # alternate, so that machine load hits both alike
        t, a = best_time(ours, 1, sync)
        t_ours = min(t_ours, t)
        t, b = best_time(theirs, 1, sync)
        t_theirs = min(t_theirs, t)
    diff = float(np.abs(np.asarray(a) - np.asarray(b)).max())
    row = {"method": name, "perturbx_s": round(t_ours, 3), "peer_s": round(t_theirs, 3),
           "ratio_peer_over_perturbx": round(t_theirs / t_ours, 2), "max_abs_diff": diff}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--scorecam-images", type=int, default=1)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = args.device
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    model = px.models.load("efficientnet_lite0", device=device)
    adapter = px.ModelAdapter(model, output="logit")
    layer = model.get_submodule(model.target_layer)
    x = torch.rand(args.images, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        classes = model(x.to(device)).argmax(dim=1).tolist()
    print(json.dumps({"device": device, "threads": torch.get_num_threads(), "images": args.images,
                      "ig_steps": args.steps, "layer": model.target_layer}), flush=True)

    def peer_cam(cls: type, images: torch.Tensor) -> np.ndarray:
        with cls(model=model, target_layers=[layer]) as cam:
            return cam(input_tensor=images.to(device), targets=[ClassifierOutputTarget(c) for c in classes])

    def ours(spec: dict, images: torch.Tensor, key: str = "maps") -> np.ndarray:
        exp = px.build("explainer", spec).explain(adapter, images, classes[: len(images)])
        out = exp.maps[:, 0] if key == "maps" else exp.meta[key]
        return out.numpy()

    rows = [compare("gradcam", lambda: ours({"name": "gradcam"}, x), lambda: peer_cam(PeerGradCAM, x),
                    args.repeats, sync)]
    xs = x[: args.scorecam_images]
    rows.append(compare("scorecam", lambda: ours({"name": "scorecam", "batch_size": 16}, xs),
                        lambda: peer_cam(PeerScoreCAM, xs), max(1, args.repeats - 1), sync))
    ig = CaptumIG(model)
    rows.append(compare(
        "integrated_gradients",
        lambda: ours({"name": "integrated_gradients", "steps": args.steps, "baseline": "zeros"}, x, "attributions"),
        lambda: ig.attribute(x.to(device), baselines=0.0, target=classes, n_steps=args.steps).detach().cpu().numpy(),
        args.repeats, sync))
    print(json.dumps({"summary": {r["method"]: r["ratio_peer_over_perturbx"] for r in rows}}))


if __name__ == "__main__":
    main()
