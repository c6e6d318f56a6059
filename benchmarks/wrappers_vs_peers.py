"""Grad-CAM, Score-CAM, ShapleyCAM, Finer-CAM and KPCA-CAM against pytorch-grad-cam; Integrated
Gradients, DeepLIFT and GradientSHAP against Captum; side by side on the bundled EfficientNet-Lite0
(CAM layer ``net.head``, logits, the same images and targets).

Each pair is timed alternately ``--repeats`` times (which side goes first alternates too); the best
time of each is kept, and the median over rounds of the ratio of a round's two runs is reported beside
it (a round's runs are neighbours in time, so it follows the machine's load). The first pair
(Grad-CAM) is preceded by a warm-up of both sides, which also runs the adapter's one-off tuning;
the expensive pairs share that warm-up. Both wall time and process CPU time are reported: on a
machine shared with other jobs, CPU time is the steadier measure of the work done. Maps are
compared too, so the timings are of equal work. Ratio = peer time / perturbx time (> 1: perturbx
is faster). For DeepLIFT, Captum's rescale table is given ReLU6 (EfficientNet-Lite0's activation),
which it lacks, so both compute the same rule; GradientSHAP feeds Captum perturbx's draws
(reference, α, noise) so that the maps can be compared, after Captum has made (and paid for) its own
draws. ShapleyCAM explains probabilities (on logits of a ReLU network it is Grad-CAM).

On a CPU shared with other jobs, run with ``OMP_NUM_THREADS=1``: with more threads than free cores,
threads waiting at a barrier spin, and one side's time can swing several-fold between runs.

    python benchmarks/wrappers_vs_peers.py --images 2 --repeats 2
    python benchmarks/wrappers_vs_peers.py --only integrated_gradients --batch-size 16
    python benchmarks/wrappers_vs_peers.py --only deeplift gradient_shap shapleycam finercam kpcacam
    OMP_NUM_THREADS=1 python benchmarks/wrappers_vs_peers.py --repeats 7 --shap-samples 8 --only gradient_shap kpcacam
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from captum.attr import DeepLift as CaptumDeepLift
from captum.attr import GradientShap as CaptumGradientShap
from captum.attr import IntegratedGradients as CaptumIG
from captum.attr._core import deep_lift
from pytorch_grad_cam import KPCA_CAM as PeerKPCACAM
from pytorch_grad_cam import FinerCAM as PeerFinerCAM
from pytorch_grad_cam import GradCAM as PeerGradCAM
from pytorch_grad_cam import ScoreCAM as PeerScoreCAM
from pytorch_grad_cam import ShapleyCAM as PeerShapleyCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from torch import nn

import perturbx as px


def timed(fn: Callable[[], object], sync: Callable[[], None]) -> tuple[float, float, object]:
    """Wall and process CPU seconds of one call of ``fn``, and its result."""
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    sync()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def compare(name: str, ours: Callable[[], np.ndarray], theirs: Callable[[], np.ndarray], repeats: int,
            sync: Callable[[], None], warmup: bool) -> dict:
    if warmup:
        ours(), theirs()  # tuning, allocator, lazy imports
    times = {"ours": [], "theirs": []}  # (wall, cpu) per round
    results = {}
    for i in range(repeats):  # alternate, first one side then the other, so that machine load hits both alike
        for side in ("ours", "theirs") if i % 2 == 0 else ("theirs", "ours"):
            wall, cpu, results[side] = timed(ours if side == "ours" else theirs, sync)
            times[side].append((wall, cpu))
    (w_ours, c_ours), (w_theirs, c_theirs) = (np.min(times[side], axis=0) for side in ("ours", "theirs"))
    per_round = np.asarray(times["theirs"]) / np.asarray(times["ours"])  # each round's two runs were neighbours
    diff = float(np.abs(np.asarray(results["ours"]) - np.asarray(results["theirs"])).max())
    row = {"method": name, "perturbx_wall_s": round(w_ours, 3), "peer_wall_s": round(w_theirs, 3),
           "perturbx_cpu_s": round(c_ours, 3), "peer_cpu_s": round(c_theirs, 3),
           "ratio_wall": round(w_theirs / w_ours, 2), "ratio_cpu": round(c_theirs / c_ours, 2),
           "median_round_ratio_wall": round(float(np.median(per_round[:, 0])), 2),
           "median_round_ratio_cpu": round(float(np.median(per_round[:, 1])), 2),
           "max_abs_diff": diff}
    print(json.dumps(row), flush=True)
    return row


def tiled(index: torch.Tensor, alpha: torch.Tensor, noise: torch.Tensor, images: int) -> tuple:
    """Our draws for one image, repeated for each image in the layout Captum draws them (image-major)."""
    return np.tile(index.numpy(), images), np.tile(alpha.numpy(), images), noise.repeat(images, 1, 1, 1)


@contextmanager
def same_draws(index: np.ndarray, alpha: np.ndarray, noise: torch.Tensor) -> Iterator[None]:
    """Captum's GradientShap draws (np.random.choice, np.random.uniform, torch.normal) replaced by ours, each
    after Captum's own draw has been made, so that Captum is timed doing its own sampling work."""
    saved = np.random.choice, np.random.uniform, torch.normal

    def after(draw: Callable, ours: object) -> Callable:
        return lambda *args, **kwargs: (draw(*args, **kwargs), ours)[1]

    np.random.choice, np.random.uniform = after(saved[0], index), after(saved[1], alpha)
    torch.normal = lambda mean, std: (saved[2](mean, std), noise.to(std.device))[1]
    try:
        yield
    finally:
        np.random.choice, np.random.uniform, torch.normal = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--scorecam-images", type=int, default=1)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scorecam-repeats", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=0, help="IG path points per call, both sides (0: 16 on CPU)")
    parser.add_argument("--shap-samples", type=int, default=16, help="GradientSHAP samples per image")
    parser.add_argument("--only", nargs="*", default=["scorecam", "integrated_gradients"],
                        help="pairs to run after Grad-CAM: scorecam, integrated_gradients, deeplift, "
                             "gradient_shap, shapleycam, finercam, kpcacam")
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

    def ours(spec: dict, images: torch.Tensor, key: str = "maps", batch_size: int | None = None) -> np.ndarray:
        explainer = px.build("explainer", spec)
        exp = explainer.explain(adapter, images, classes[: len(images)], batch_size=batch_size, progress=False)
        out = exp.maps[:, 0] if key == "maps" else exp.meta[key]
        return out.numpy()

    # Grad-CAM always runs first: it is also the warm-up (tuning, allocator) of the expensive pairs
    rows = [compare("gradcam", lambda: ours({"name": "gradcam"}, x), lambda: peer_cam(PeerGradCAM, x),
                    args.repeats, sync, warmup=True)]
    if "scorecam" in args.only:
        xs = x[: args.scorecam_images]
        rows.append(compare("scorecam", lambda: ours({"name": "scorecam"}, xs, batch_size=16),
                            lambda: peer_cam(PeerScoreCAM, xs), args.scorecam_repeats, sync, warmup=False))
    if "integrated_gradients" in args.only:
        size = args.batch_size or (16 if device == "cpu" else 128)
        ig = CaptumIG(model)
        spec = {"name": "integrated_gradients", "steps": args.steps, "baseline": "zeros"}
        rows.append(compare(
            "integrated_gradients",
            lambda: ours(spec, x, "attributions", size),
            lambda: ig.attribute(x.to(device), baselines=0.0, target=classes, n_steps=args.steps,
                                 internal_batch_size=size).detach().cpu().numpy(),
            args.repeats, sync, warmup=False))
    if "deeplift" in args.only:
        deep_lift.SUPPORTED_NON_LINEAR.setdefault(nn.ReLU6, deep_lift.nonlinear)  # the same rule on both sides
        dl = CaptumDeepLift(model)
        rows.append(compare(
            "deeplift",
            lambda: ours({"name": "deeplift", "baseline": "zeros"}, x, "attributions", len(x)),
            lambda: dl.attribute(x.to(device), baselines=torch.zeros_like(x).to(device),
                                 target=classes).detach().cpu().numpy(),
            args.repeats, sync, warmup=False))
    if "gradient_shap" in args.only:
        refs = torch.rand(4, *x.shape[1:], generator=torch.Generator().manual_seed(1))
        size = args.batch_size or (16 if device == "cpu" else 128)
        spec = {"name": "gradient_shap", "baselines": refs, "n_samples": args.shap_samples, "sigma": 0.1}
        draws = tiled(*px.build("explainer", spec).draws(len(refs), x.shape[1:]), len(x))
        gs = CaptumGradientShap(model)

        def theirs_gs() -> np.ndarray:
            with same_draws(*draws):
                return gs.attribute(x.to(device), baselines=refs.to(device), target=classes,
                                    n_samples=args.shap_samples, stdevs=0.1).detach().cpu().numpy()

        rows.append(compare("gradient_shap", lambda: ours(spec, x, "attributions", size), theirs_gs, args.repeats, sync,
                            warmup=False))
    if "shapleycam" in args.only:
        probs = px.ModelAdapter(model, output="probability")

        def theirs_shapley() -> np.ndarray:
            with PeerShapleyCAM(model=model, target_layers=[layer]) as cam:
                return cam(input_tensor=x.to(device), targets=[ClassifierOutputSoftmaxTarget(c) for c in classes])

        rows.append(compare(
            "shapleycam",
            lambda: px.build("explainer", "shapleycam").explain(probs, x, classes).maps[:, 0].numpy(),
            theirs_shapley, args.repeats, sync, warmup=False))
    if "finercam" in args.only:
        finer = PeerFinerCAM(model=model, target_layers=[layer])
        rows.append(compare(
            "finercam",
            lambda: px.build("explainer", "finercam").explain(adapter, x).maps[:, 0].numpy(),
            lambda: finer(input_tensor=x.to(device)), args.repeats, sync, warmup=False))
    if "kpcacam" in args.only:
        rows.append(compare("kpcacam", lambda: ours({"name": "kpcacam"}, x), lambda: peer_cam(PeerKPCACAM, x),
                            args.repeats, sync, warmup=False))
    print(json.dumps({"summary": {r["method"]: {"wall": r["ratio_wall"], "cpu": r["ratio_cpu"],
                                                "median_round_cpu": r["median_round_ratio_cpu"]} for r in rows}}))


if __name__ == "__main__":
    main()
